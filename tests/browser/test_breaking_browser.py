"""The owner removes a column in the YAML editor: refused without a major bump, then imported with one;
the product reading that output shows the breaking change, and its owner gets an email."""

import pytest
from django.core import mail
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from products import versions
from products.history import VersionSource
from tests import factories
from tests.browser.pages import sign_in, stylesheet_applied

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def edit_yaml(browser, old: str, new: str) -> None:
    """Replace text in the editor's textarea (typing 17 KB through the keyboard would take minutes)."""
    area = browser.find_element(By.ID, "spec-yaml")
    text = area.get_attribute("value")
    assert old in text
    browser.execute_script("arguments[0].value = arguments[1]", area, text.replace(old, new, 1))


def test_a_breaking_change_by_yaml_needs_a_bump_and_is_announced_downstream(browser, live_server, artifacts):
    owner = factories.ProductManagerFactory(username="olivia", first_name="Olivia", last_name="Owner")
    reader_owner = factories.ProductManagerFactory(username="ravi", email="ravi@example.com")
    product = factories.DataProductFactory(slug="cross-sell", name="Cross-sell", owner=owner, version="1.4.0")
    scores = factories.OutputFactory(product=product, name="scores")
    factories.OutputColumnFactory(output=scores, name="customer_id", data_type="integer")
    factories.OutputColumnFactory(output=scores, name="segment", data_type="string")
    campaigns = factories.DataProductFactory(slug="campaigns", name="Campaigns", owner=reader_owner)
    factories.ProductInputFactory(product=campaigns, source_output=scores, columns=["customer_id", "segment"])
    versions.record_version(product, source=VersionSource.DEMO)
    wait = WebDriverWait(browser, 10)

    sign_in(browser, live_server, owner.username)
    browser.get(f"{live_server.url}/products/cross-sell/spec/")
    segment = "    - name: segment\n      type: string\n      role: dimension\n      classification: internal\n"
    edit_yaml(browser, segment, "")
    browser.find_element(By.CSS_SELECTOR, "button[name=import]").click()
    error = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".spec-errors li")))
    assert "metadata.version" in error.text and "from 1.4.0 to 2.0.0" in error.text
    assert stylesheet_applied(browser)
    browser.save_screenshot(str(artifacts / "breaking_refused.png"))

    edit_yaml(browser, "version: 1.4.0", "version: 2.0.0")
    browser.find_element(By.CSS_SELECTOR, "button[name=import]").click()
    wait.until(EC.url_to_be(f"{live_server.url}{product.get_absolute_url()}"))
    own = browser.find_element(By.CSS_SELECTOR, ".notice--info")
    assert "made breaking changes" in own.text and "column 'segment' removed" in own.text

    browser.get(f"{live_server.url}{campaigns.get_absolute_url()}")
    notice = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".notice--warning")))
    assert "Breaking change upstream" in notice.text and "Cross-sell" in notice.text
    assert "column 'segment' removed" in notice.text
    assert stylesheet_applied(browser)
    browser.save_screenshot(str(artifacts / "breaking_notice_downstream.png"))
    assert [message.to for message in mail.outbox] == [["ravi@example.com"]]
    assert "segment" in mail.outbox[0].body
