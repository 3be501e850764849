"""The Sales Intelligence Dashboard in Chromium: the demo's KPIs, a new date range, then the North region only."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from products.models import Dashboard
from quality import kpis
from tests import factories
from tests.browser.conftest import WINDOW
from tests.browser.pages import sign_in, stylesheet_applied

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TREND, BY_REGION = "tile-3", "tile-4"  # the monthly revenue trend and revenue by region, by their place in the spec


@pytest.fixture
def sales_dashboard(data_root) -> Dashboard:
    """The demo, seeded small; its KPIs are computed on ``demo_seeded``."""
    call_command("seed_demo", "--rows", "5000", "--password", factories.PASSWORD, stdout=io.StringIO())
    return Dashboard.objects.select_related("product").get(product__slug="sales-intelligence")


def charts_drawn(browser, count: int) -> None:
    WebDriverWait(browser, 20).until(
        lambda driver: (
            len(driver.find_elements(By.CSS_SELECTOR, ".chart--drawn [data-chart-plot] svg.main-svg")) >= count
        )
    )


def card_values(browser) -> dict[str, str]:
    found = {}
    for card in browser.find_elements(By.CSS_SELECTOR, "[data-tile=card]"):
        title = card.find_element(By.CSS_SELECTOR, ".dashboard-card__title").text
        found[title] = card.find_element(By.CSS_SELECTOR, "[data-card-value]").text
    return found


def table_rows(browser, key: str) -> list[str]:
    """The x values of a chart's data table (folded away once drawn, so read as textContent)."""
    cells = browser.find_elements(By.CSS_SELECTOR, f"#chart-{key} tbody th[scope=row]")
    return [cell.get_attribute("textContent") for cell in cells]


def bars(browser, key: str) -> int:
    return len(browser.find_elements(By.CSS_SELECTOR, f"#chart-{key} .barlayer .point"))


def apply(browser) -> None:
    browser.find_element(By.CSS_SELECTOR, "[data-dashboard-filters] button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda driver: "?" in driver.current_url)


def whole_page(browser, path) -> None:
    """A screenshot of the whole page, not only the window."""
    height = browser.execute_script("return document.documentElement.scrollHeight")
    metrics = {"width": WINDOW[0], "height": max(WINDOW[1], height), "deviceScaleFactor": 1, "mobile": False}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    browser.save_screenshot(str(path))
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_a_reader_narrows_the_sales_dashboard_by_dates_and_region(browser, live_server, artifacts, sales_dashboard):
    sign_in(browser, live_server, "alice")
    browser.get(f"{live_server.url}{sales_dashboard.get_absolute_url()}")
    assert stylesheet_applied(browser)
    charts_drawn(browser, 4)
    first = card_values(browser)
    assert set(first) == {"Total revenue", "Unique customers", "Average order value"}
    assert all(value and value != "—" for value in first.values()), first
    months = table_rows(browser, TREND)
    assert len(months) >= 6  # 180 days
    regions = table_rows(browser, BY_REGION)
    assert "North" in regions and bars(browser, BY_REGION) == len(regions) > 1
    whole_page(browser, artifacts / "sales_dashboard.png")

    # The last 60 days only.
    today = kpis.local_today()
    start = today - timedelta(days=59)
    browser.execute_script(
        "document.querySelector('[data-filter-from]').value = arguments[0];"
        "document.querySelector('[data-filter-to]').value = arguments[1];",
        start.isoformat(),
        today.isoformat(),
    )
    apply(browser)
    charts_drawn(browser, 4)
    narrower = card_values(browser)
    assert narrower["Total revenue"] != first["Total revenue"]
    assert narrower["Unique customers"] != first["Unique customers"]
    assert browser.find_element(By.CSS_SELECTOR, "[data-filter-from]").get_attribute("value") == start.isoformat()
    assert len(table_rows(browser, TREND)) in (2, 3) and len(table_rows(browser, TREND)) < len(months)

    # North only.
    browser.find_element(By.CSS_SELECTOR, "[data-filter=region] input[value=North]").click()
    apply(browser)
    charts_drawn(browser, 4)
    north = card_values(browser)
    assert north["Total revenue"] != narrower["Total revenue"]
    assert north["Unique customers"] != narrower["Unique customers"]
    assert table_rows(browser, BY_REGION) == ["North"]
    assert bars(browser, BY_REGION) == 1
    assert browser.find_element(By.CSS_SELECTOR, "[data-filter=region] input[value=North]").is_selected()
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-tile-error], [data-filter-errors]")
    whole_page(browser, artifacts / "sales_dashboard_north.png")
