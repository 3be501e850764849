"""A steward reads the Quality panel, opens a failing run with its rows, and resolves the incident with a reason."""

from datetime import timedelta

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from quality import outcomes
from quality.choices import IncidentStatus, RunStatus, Severity
from quality.models import CheckRun, Incident
from tests import factories
from tests.browser.pages import sign_in, stylesheet_applied

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SAMPLES = [
    {"order_id": "SO-1044", "customer_email": "***", "region": "East", "revenue": 43.46},
    {"order_id": "SO-1044", "customer_email": "***", "region": "North", "revenue": 65.37},
]


def finished(check, status: str, hours_ago: int, observed: float, samples=None) -> CheckRun:
    """A finished run and what follows it (incidents, SLOs, health), as a worker would record it."""
    at = timezone.now().replace(microsecond=0) - timedelta(hours=hours_ago)
    run = CheckRun.objects.create(
        quality_check=check, scheduled_for=at, started=at, finished=at, status=status,
        observed_value=observed, samples=samples or [], duration_ms=12, attempts=1,
    )  # fmt: skip
    outcomes.after_run(run)
    return run


def quality_product(steward):
    owner = factories.ProductManagerFactory(username="olivia", first_name="Olivia", last_name="Owner")
    product = factories.DataProductFactory(slug="sales", name="Sales intelligence", owner=owner, stewards=[steward])
    orders = factories.OutputFactory(product=product, name="orders")
    for order, name in enumerate(["order_id", "customer_email", "region", "revenue", "order_date"]):
        factories.OutputColumnFactory(output=orders, name=name, order=order)
    slo = factories.SLOFactory(product=product, name="Order ids complete and unique", objective_percent=95)
    rows = factories.CheckFactory(output=orders, name="rows present", check_type="row_count")
    unique = factories.CheckFactory(output=orders, name="order_id unique", check_type="duplicate_count")
    emails = factories.CheckFactory(
        output=orders, name="customer_email well-formed", check_type="invalid_count", column="customer_email",
        severity=Severity.WARN, params={"regex": ".+@.+"},
    )  # fmt: skip
    unique.columns = ["order_id"]
    unique.save()
    unique.slos.add(slo)
    for hours in range(24, 0, -1):
        finished(rows, RunStatus.PASS, hours, 2000 + hours)
        finished(emails, RunStatus.WARN if hours % 5 == 1 else RunStatus.PASS, hours, 3 if hours % 5 == 1 else 0)
        if hours > 1:
            finished(unique, RunStatus.PASS, hours, 0)
    failing = finished(unique, RunStatus.FAIL, 0, 2, SAMPLES)
    factories.CheckFactory(
        output=orders, name="fresh", check_type="freshness", column="order_date", params={"max_age_hours": 24}
    )  # never run
    return product, failing


def screenshot_whole(browser, element, path) -> None:
    """Chromium crops an element's screenshot to the window: make the window as tall as the page first."""
    size = browser.get_window_size()
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(size["width"], min(height + 200, 8000))
    element.screenshot(str(path))
    browser.set_window_size(size["width"], size["height"])


def test_a_steward_reads_the_quality_panel_opens_a_failing_run_and_resolves_the_incident(
    browser, live_server, artifacts
):
    steward = factories.UserFactory(username="steward", first_name="Sam", last_name="Steward")
    product, failing = quality_product(steward)
    wait = WebDriverWait(browser, 10)

    sign_in(browser, live_server, steward.username)
    browser.get(f"{live_server.url}{product.get_absolute_url()}#quality")
    panel = wait.until(EC.presence_of_element_located((By.ID, "quality")))
    assert stylesheet_applied(browser)
    badges = [badge.text for badge in panel.find_elements(By.CSS_SELECTOR, ".q-checks td .badge")]
    assert badges == ["Warn", "Never run", "Fail", "Pass"]  # ordered by name
    assert len(panel.find_elements(By.CSS_SELECTOR, ".q-strip .q-cell--pass")) > 40
    gauge = panel.find_element(By.CSS_SELECTOR, ".q-gauge")
    assert "Order ids complete and unique" in gauge.text
    assert "At risk" in gauge.text and "95.83 %" in gauge.text
    assert panel.find_element(By.CSS_SELECTOR, ".q-output__actions button").text == "Run now"
    assert "Check failed: order_id unique on orders" in panel.find_element(By.CSS_SELECTOR, ".q-incidents").text
    # The cells are links with a label, drawn at a usable size.
    cell = panel.find_element(By.CSS_SELECTOR, ".q-strip .q-cell--fail")
    assert cell.get_attribute("aria-label").startswith("Fail, ")
    assert cell.size["width"] >= 6 and cell.size["height"] >= 16
    screenshot_whole(browser, panel, artifacts / "quality_panel.png")

    cell.click()
    wait.until(EC.url_contains(f"/runs/{failing.pk}/"))
    table = browser.find_element(By.CSS_SELECTOR, ".q-sample-table")
    headers = [th.text for th in table.find_elements(By.CSS_SELECTOR, "th")]
    assert headers == ["order_id", "customer_email", "region", "revenue"]
    assert len(table.find_elements(By.CSS_SELECTOR, "tbody tr")) == 2
    assert table.find_element(By.CSS_SELECTOR, ".q-masked").text == "***"
    assert "== 0" in browser.find_element(By.CSS_SELECTOR, ".q-result").text
    browser.save_screenshot(str(artifacts / "quality_run_detail.png"))

    browser.find_element(By.CSS_SELECTOR, ".q-callout a").click()
    resolve = wait.until(EC.presence_of_element_located((By.ID, "id_resolution")))
    resolve.find_element(By.XPATH, "ancestor::form").find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    error = wait.until(EC.presence_of_element_located((By.ID, "id_resolution_error1")))
    assert error.text == "Say why the incident is resolved."
    assert Incident.objects.get().status == IncidentStatus.OPEN
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", error)
    browser.save_screenshot(str(artifacts / "quality_incident_error.png"))

    resolve = browser.find_element(By.ID, "id_resolution")
    resolve.send_keys("Duplicate order ids removed in the loader; reloaded.")
    resolve.find_element(By.XPATH, "ancestor::form").find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".q-title-badge"), "Resolved"))
    incident = Incident.objects.get()
    assert (incident.status, incident.resolved_by) == (IncidentStatus.RESOLVED, steward)
    assert "Duplicate order ids removed" in browser.find_element(By.CSS_SELECTOR, ".q-timeline").text
    assert not browser.find_elements(By.ID, "id_resolution")
    browser.save_screenshot(str(artifacts / "quality_incident_resolved.png"))


def test_a_steward_fixes_a_check_and_adds_a_webhook_whose_secret_is_shown_once(
    browser, live_server, artifacts, settings
):
    settings.LODESTAR_WEBHOOK_ALLOW_PRIVATE = True  # the receiver below is on this machine
    steward = factories.UserFactory(username="steward", first_name="Sam", last_name="Steward")
    product, _ = quality_product(steward)
    wait = WebDriverWait(browser, 10)

    sign_in(browser, live_server, steward.username)
    browser.get(f"{live_server.url}{product.get_absolute_url()}#quality")
    wait.until(EC.element_to_be_clickable((By.LINK_TEXT, "Edit checks"))).click()
    params = wait.until(EC.presence_of_element_located((By.ID, "id_checks-0-params")))
    params.clear()
    params.send_keys('{"regex": ".+@.+"')  # the closing brace forgotten
    browser.find_element(By.CSS_SELECTOR, ".form-actions button[type=submit]").click()
    error = wait.until(EC.presence_of_element_located((By.ID, "id_checks-0-params_error1")))
    assert error.text.startswith("params is not valid JSON")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", error)
    browser.save_screenshot(str(artifacts / "quality_check_editor_error.png"))

    params = browser.find_element(By.ID, "id_checks-0-params")
    params.send_keys("}")
    browser.find_element(By.CSS_SELECTOR, ".form-actions button[type=submit]").click()
    messages = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".messages")))
    assert "Saved the checks of orders." in messages.text
    assert product.checks.get(name="customer_email well-formed").params == {"regex": ".+@.+"}

    browser.get(f"{live_server.url}/products/{product.slug}/quality/")
    url = wait.until(EC.presence_of_element_located((By.ID, "id_url")))
    url.send_keys(f"{live_server.url}/hooks/lodestar")
    url.find_element(By.XPATH, "ancestor::form").find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    secret = wait.until(EC.presence_of_element_located((By.ID, "webhook-secret")))
    webhook = product.webhooks.get()
    assert secret.get_attribute("value") == webhook.secret
    assert browser.find_element(By.CSS_SELECTOR, "[data-copy]").is_displayed()  # quality.js shows the button
    browser.save_screenshot(str(artifacts / "quality_settings_secret.png"))

    browser.get(f"{live_server.url}/products/{product.slug}/quality/")
    assert not browser.find_elements(By.ID, "webhook-secret")
    assert webhook.secret not in browser.page_source
