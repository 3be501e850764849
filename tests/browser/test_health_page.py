"""A steward opens the hub's health page, then the home page narrowed to failing products."""

from datetime import timedelta

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from quality.choices import Health, IncidentStatus, RunStatus, SLOState
from quality.models import Incident, ProductHealth, SLOEvaluation
from tests import factories
from tests.browser.conftest import WINDOW
from tests.browser.pages import sign_in, stylesheet_applied
from tests.quality.outcomes import finished_run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TILES = [("Failing", "2"), ("Warning", "1"), ("Unknown", "1"), ("Healthy", "1")]  # the steward sees the draft too


def full_page_screenshot(browser, path) -> None:
    """The whole page, not only the window: the viewport is stretched to the page's height for the shot."""
    height = browser.execute_script("return document.documentElement.scrollHeight")
    metrics = {"width": WINDOW[0], "height": height, "deviceScaleFactor": 1, "mobile": False}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    browser.save_screenshot(str(path))
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def make_hub(steward) -> None:
    """Products in every health: a failing one with a failing check, an incident and a breached SLO."""
    owner = factories.ProductManagerFactory(username="olivia", first_name="Olivia", last_name="Owner")
    sales = factories.DomainFactory(name="Sales", slug="sales")
    marketing = factories.DomainFactory(name="Marketing", slug="marketing")
    now = timezone.now()

    def product(name, domain, state, **kwargs):
        made = factories.DataProductFactory(name=name, domain=domain, owner=owner, stewards=[steward], **kwargs)
        if state:
            ProductHealth.objects.create(product=made, state=state)
        return made

    orders = product("Orders", sales, Health.FAILING, summary="Every order, as placed.")
    spend = product("Customer spend", sales, Health.WARNING, summary="What each customer spends, by month.")
    product("Web sessions", marketing, Health.HEALTHY, summary="Clicks and visits.")
    product("Legacy cube", marketing, None, summary="The old cube.", status="deprecated")
    product("Churn risk", sales, Health.FAILING, summary="Who may leave next.", status="draft")

    facts = factories.OutputFactory(product=orders, name="order_facts")
    check = factories.CheckFactory(output=facts, name="no duplicate orders")
    for hours_ago, status in ((30, RunStatus.PASS), (20, RunStatus.FAIL), (2, RunStatus.FAIL)):
        finished_run(check, status, hours_ago=hours_ago, now=now)
    Incident.objects.create(
        product=orders, quality_check=check, title="Check failed: no duplicate orders on order_facts",
        opened_at=now - timedelta(hours=20), occurrences=2,
    )  # fmt: skip
    errored = factories.CheckFactory(output=factories.OutputFactory(product=spend, name="spend"), name="fresh")
    finished_run(errored, RunStatus.ERROR, hours_ago=1, now=now)

    slos = [
        (orders, "Fresh by 07:00", SLOState.BREACHED, 96.43, -614.3),
        (spend, "Available", SLOState.AT_RISK, 99.6, 20.0),
        (orders, "Complete", SLOState.MET, 100.0, 100.0),
    ]
    for owner_product, name, state, compliance, budget in slos:
        slo = factories.SLOFactory(product=owner_product, name=name, objective_percent="99.5")
        SLOEvaluation.objects.create(
            slo=slo, evaluated_at=now, window_start=now - timedelta(days=28), state=state,
            compliance_percent=compliance, budget_remaining_percent=budget,
        )  # fmt: skip
        if state == SLOState.BREACHED:
            Incident.objects.create(
                product=owner_product, slo=slo, title=f"SLO breached: {name}", status=IncidentStatus.ACKNOWLEDGED,
                opened_at=now - timedelta(hours=5),
            )  # fmt: skip
    factories.SLOFactory(product=spend, name="Documented", objective_percent=99)  # never measured


def test_a_steward_sees_the_hub_health_and_the_failing_products(browser, live_server, artifacts):
    steward = factories.UserFactory(username="steward", first_name="Sam", last_name="Steward")
    make_hub(steward)
    wait = WebDriverWait(browser, 10)

    sign_in(browser, live_server, steward.username)
    browser.find_element(By.LINK_TEXT, "Health").click()
    wait.until(lambda driver: driver.current_url.endswith("/health/"))
    assert stylesheet_applied(browser)
    tiles = [
        (tile.find_element(By.CSS_SELECTOR, ".state-badge").get_attribute("title"), tile.text.split()[0])
        for tile in browser.find_elements(By.CSS_SELECTOR, ".health-tile")
    ]
    assert tiles == [
        ("Health: Failing", "2"),
        ("Health: Warning", "1"),
        ("Health: Unknown", "1"),
        ("Health: Healthy", "1"),
    ]
    checks = browser.find_element(By.ID, "failing-checks")
    assert "no duplicate orders" in checks.text and "fresh" in checks.text
    run_links = [link.get_attribute("href") for link in checks.find_elements(By.CSS_SELECTOR, "a.badge")]
    assert len(run_links) == 2 and all("/runs/" in link for link in run_links)
    assert "SLO breached: Fresh by 07:00" in browser.find_element(By.ID, "incidents").text
    assert "No data" in browser.find_element(By.ID, "slos").text
    full_page_screenshot(browser, artifacts / "health_page.png")

    browser.find_element(By.CSS_SELECTOR, "select[name=domain]").send_keys("Sales")
    browser.find_element(By.CSS_SELECTOR, ".health-filters button[type=submit]").click()
    wait.until(lambda driver: "domain=sales" in driver.current_url)
    assert "Web sessions" not in browser.find_element(By.ID, "slos").text

    browser.get(f"{live_server.url}/?health=failing")
    cards = browser.find_elements(By.CSS_SELECTOR, ".card")
    assert {card.find_element(By.CSS_SELECTOR, ".card__title").text for card in cards} == {"Orders", "Churn risk"}
    assert all("Failing" in card.find_element(By.CSS_SELECTOR, ".card__top").text for card in cards)
    pill = browser.find_element(By.CSS_SELECTOR, ".filter-pill")
    assert "Health: Failing" in pill.text
    assert stylesheet_applied(browser)
    browser.save_screenshot(str(artifacts / "home_failing.png"))

    browser.get(f"{live_server.url}/?sort=health")
    titles = [title.text for title in browser.find_elements(By.CSS_SELECTOR, ".card__title")]
    assert titles == ["Churn risk", "Orders", "Customer spend", "Legacy cube", "Web sessions"]
    browser.save_screenshot(str(artifacts / "home_sorted_by_health.png"))
