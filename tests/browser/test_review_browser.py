"""Change review in the browser: a steward proposes a goal, the owner reads the diff and approves, History shows it."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from products import versions
from products.history import VersionSource
from tests import factories
from tests.browser.pages import sign_in, stylesheet_applied

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_stewards_goal_waits_for_the_owner_then_becomes_a_version(browser, live_server, artifacts):
    owner = factories.ProductManagerFactory(username="olivia", first_name="Olivia", last_name="Owner")
    steward = factories.UserFactory(username="sam", first_name="Sam", last_name="Steward")
    product = factories.DataProductFactory(
        slug="cross-sell", name="Cross-sell", owner=owner, stewards=[steward], review_changes=True
    )
    versions.record_version(product, source=VersionSource.DEMO, message="Demo data")
    wait = WebDriverWait(browser, 10)

    sign_in(browser, live_server, steward.username)
    browser.get(f"{live_server.url}/products/{product.slug}/edit/goals/")
    wait.until(EC.presence_of_element_located((By.NAME, "goals-0-title"))).send_keys("Grow repeat purchases")
    browser.find_element(By.NAME, "goals-0-success_measure").send_keys("Customers with a second order")
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit].btn--primary").click()
    wait.until(EC.url_contains("/changes/"))
    change_url = browser.current_url
    assert "Grow repeat purchases" in browser.page_source
    assert product.goals.count() == 0  # waiting for the owner

    browser.delete_all_cookies()
    sign_in(browser, live_server, owner.username)
    browser.get(change_url)
    diff = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "main")))
    assert "Grow repeat purchases" in diff.text and "added" in diff.text
    assert stylesheet_applied(browser)
    browser.save_screenshot(str(artifacts / "review_change_request.png"))
    browser.find_element(By.ID, "id_comment").send_keys("Yes — this is what the cross-sell team needs.")
    browser.find_element(By.CSS_SELECTOR, "button[name=decision][value=approve]").click()

    wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "body"), "approved"))  # back on it, with a message
    assert list(product.goals.values_list("title", flat=True)) == ["Grow repeat purchases"]
    latest = versions.latest(product)
    assert latest.source == "review" and latest.author == steward
    browser.get(f"{live_server.url}/products/{product.slug}/history/?from={latest.number - 1}&to={latest.number}")
    page = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "main"))).text
    assert "Grow repeat purchases" in page
    browser.save_screenshot(str(artifacts / "review_history_diff.png"))
