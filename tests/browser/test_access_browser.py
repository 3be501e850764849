"""A user asks for access in the product page's Access section; the owner approves it there; the user reads masked."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from tests import factories
from tests.browser.pages import sign_in, stylesheet_applied

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def level_badge(browser, output) -> str:
    return browser.find_element(By.CSS_SELECTOR, f"#access-{output.name} .output__head .badge").text


def test_a_request_approved_by_the_owner_changes_the_readers_level(browser, live_server, artifacts):
    owner = factories.ProductManagerFactory(username="olivia")
    reader = factories.UserFactory(username="ravi")
    product = factories.DataProductFactory(slug="cross-sell", name="Cross-sell", owner=owner)
    output = factories.OutputFactory(product=product, name="orders")
    wait = WebDriverWait(browser, 10)
    page = f"{live_server.url}{product.get_absolute_url()}"

    sign_in(browser, live_server, reader.username)
    browser.get(page + "#access")
    assert stylesheet_applied(browser)
    assert level_badge(browser, output) == "You have no access"
    browser.find_element(By.ID, f"id_request_{output.pk}_purpose").send_keys("Churn model for the Q3 review")
    browser.find_element(By.ID, f"id_request_{output.pk}_days").send_keys("30")
    browser.find_element(By.CSS_SELECTOR, f"form[action$='/outputs/{output.pk}/request/'] button[type=submit]").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".message--success")))
    assert "Pending" in browser.find_element(By.ID, f"access-{output.name}").text

    browser.delete_all_cookies()
    sign_in(browser, live_server, owner.username)
    browser.get(page + "#access")
    assert "Churn model for the Q3 review" in browser.find_element(By.ID, "access").text
    browser.find_element(By.CSS_SELECTOR, ".access-decide button.btn--primary").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".message--success")))
    browser.execute_script("document.getElementById('access').scrollIntoView()")
    browser.save_screenshot(str(artifacts / "access-approved-by-owner.png"))

    browser.delete_all_cookies()
    sign_in(browser, live_server, reader.username)
    browser.get(page + "#access")
    assert level_badge(browser, output) == "You read this masked"
    browser.save_screenshot(str(artifacts / "access-reader-masked.png"))
