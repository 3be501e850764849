"""A steward opens a product page, clicks Preview on an output, and sees its first rows with PII masked."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from products.demo.datasets import CANARY_EMAIL
from tests import factories
from tests.browser.pages import sign_in, stylesheet_applied
from tests.products.delivery_data import sales_output

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_steward_previews_masked_rows(browser, live_server, artifacts, request, data_root):
    steward = factories.UserFactory(username="sam", first_name="Sam", last_name="Steward")
    owner = factories.ProductManagerFactory(username="olivia")
    product = factories.DataProductFactory(slug="sales", name="Sales intelligence", owner=owner, stewards=[steward])
    sales_output(request, product, data_root, "parquet")

    sign_in(browser, live_server, "sam")
    browser.get(f"{live_server.url}{product.get_absolute_url()}#data")
    assert stylesheet_applied(browser)
    preview = browser.find_element(By.CSS_SELECTOR, "#data-sales [data-preview]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", preview)
    preview.click()

    wait = WebDriverWait(browser, 10)
    table = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "#preview-sales table")))
    assert browser.current_url.endswith("#data")  # loaded into the page, not by following the link
    headers = [th.get_attribute("textContent").split() for th in table.find_elements(By.CSS_SELECTOR, "th.is-masked")]
    assert headers == [["email", "masked"], ["phone", "masked"]]
    masked = [td.text for td in table.find_elements(By.CSS_SELECTOR, "td.is-masked")]
    assert "c***@example.com" in masked
    assert all(text.startswith("h:") or "***" in text or text == "null" for text in masked)
    assert CANARY_EMAIL not in browser.page_source
    assert len(table.find_elements(By.CSS_SELECTOR, "tbody tr")) == 12
    assert preview.text == "Hide preview"
    browser.execute_script("document.getElementById('data').scrollIntoView({block: 'start'})")
    browser.save_screenshot(str(artifacts / "preview-masked.png"))
