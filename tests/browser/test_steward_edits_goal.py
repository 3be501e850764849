"""A steward signs in, edits a goal of their product through the forms, and sees it on the product page."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from tests import factories
from tests.browser.pages import sign_in, stylesheet_applied

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_steward_edits_a_goal_and_sees_it_on_the_product_page(browser, live_server, artifacts):
    steward = factories.UserFactory(username="steward", first_name="Sam", last_name="Steward")
    owner = factories.ProductManagerFactory(username="olivia")
    product = factories.DataProductFactory(slug="cross-sell", name="Cross-sell", owner=owner, stewards=[steward])
    factories.GoalFactory(product=product, title="Grow cross-sell revenue", target_value=15, target_unit="%")
    wait = WebDriverWait(browser, 10)

    sign_in(browser, live_server, steward.username)
    browser.get(f"{live_server.url}{product.get_absolute_url()}")
    assert stylesheet_applied(browser)
    browser.find_element(By.CSS_SELECTOR, ".product-header__actions a[href$='/edit/']").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".edit-nav")))
    browser.find_element(By.CSS_SELECTOR, ".edit-nav a[href$='/edit/goals/']").click()

    title = wait.until(EC.presence_of_element_located((By.ID, "id_goals-0-title")))
    title.clear()
    title.send_keys("Double cross-sell revenue")
    target = browser.find_element(By.ID, "id_goals-0-target_value")
    target.clear()
    target.send_keys("30")
    browser.find_element(By.CSS_SELECTOR, ".form-actions button[type=submit]").click()

    wait.until(EC.url_to_be(f"{live_server.url}{product.get_absolute_url()}"))
    goal = browser.find_element(By.CSS_SELECTOR, ".goal")
    assert "Double cross-sell revenue" in goal.text
    assert "30" in goal.find_element(By.CSS_SELECTOR, ".goal__target").text
    assert "Grow cross-sell revenue" not in browser.page_source
    assert stylesheet_applied(browser)
    product.goals.get(title="Double cross-sell revenue", target_value=30)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", goal)
    browser.save_screenshot(str(artifacts / "steward_edits_goal.png"))
