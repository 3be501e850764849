"""The owner deprecates a product on its Lifecycle page; the banner and the lineage drawing show it."""

import datetime

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests import factories
from tests.browser.pages import sign_in, stylesheet_applied

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_owner_deprecates_a_product_and_sees_the_banner_and_the_graph(browser, live_server, artifacts):
    owner = factories.ProductManagerFactory(username="olivia", first_name="Olivia", last_name="Owner")
    product = factories.DataProductFactory(slug="cross-sell", name="Cross-sell", owner=owner)
    successor = factories.DataProductFactory(slug="cross-sell-v2", name="Cross-sell v2", owner=owner)
    orders = factories.DataProductFactory(slug="orders", name="Orders", owner=owner)
    source = factories.OutputFactory(product=orders, name="orders")
    factories.ProductInputFactory(product=product, source_output=source)
    factories.ProductInputFactory(product=orders, kind="external", source_output=None, external_name="Shop API")
    scores = factories.OutputFactory(product=product, name="scores")
    factories.OutputColumnFactory(output=scores, name="customer_id")
    campaigns = factories.DataProductFactory(slug="campaigns", name="Campaigns", owner=owner)
    factories.ProductInputFactory(product=campaigns, source_output=scores, columns=["customer_id"])
    reports = factories.DataProductFactory(slug="reports", name="Weekly reports", owner=owner)
    factories.ProductInputFactory(product=reports, source_output=factories.OutputFactory(product=campaigns))
    wait = WebDriverWait(browser, 10)

    sign_in(browser, live_server, owner.username)
    browser.get(f"{live_server.url}{product.get_absolute_url()}")
    browser.find_element(By.CSS_SELECTOR, ".product-header__actions a[href$='/lifecycle/']").click()
    status = Select(wait.until(EC.presence_of_element_located((By.ID, "id_status"))))
    status.select_by_value("deprecated")
    sunset = (datetime.date.today() + datetime.timedelta(days=90)).isoformat()
    browser.execute_script("document.getElementById('id_sunset_date').value = arguments[0]", sunset)
    Select(browser.find_element(By.ID, "id_replaced_by")).select_by_visible_text("Cross-sell v2")
    browser.find_element(By.ID, "id_note").send_keys("Cross-sell v2 scores every customer.")
    assert stylesheet_applied(browser)
    browser.save_screenshot(str(artifacts / "lifecycle_page.png"))
    browser.find_element(By.CSS_SELECTOR, ".form-actions button[type=submit]").click()

    wait.until(EC.url_to_be(f"{live_server.url}{product.get_absolute_url()}"))
    banner = browser.find_element(By.CSS_SELECTOR, ".notice--warning")
    assert f"Deprecated — retires on {sunset}; use Cross-sell v2 instead." in banner.text
    assert stylesheet_applied(browser)
    graph = browser.find_element(By.CSS_SELECTOR, "svg.lineage-svg")
    assert graph.size["width"] > 900  # five columns
    assert "Weekly reports" in graph.get_attribute("innerHTML")
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'})", browser.find_element(By.ID, "lineage"))
    browser.save_screenshot(str(artifacts / "lineage_graph.png"))
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(artifacts / "lifecycle_deprecated_banner.png"))
    product.refresh_from_db()
    assert (product.status, product.replaced_by) == ("deprecated", successor)
