"""A KPI page in Chromium: the card and the trend draw, a new date range redraws the trend; the KPI tree's cards.

A demo-like sales product: an orders output (``order_date``, ``region``, ``revenue``) with 14 months of
orders, and its KPI tree (net revenue by month, its drivers, a counter-metric), computed for real.
Screenshots go to tests/artifacts/kpi_page.png and kpi_tree.png.
"""

import json
from datetime import timedelta

import pandas as pd
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from products.choices import Aggregation, KPILevel
from quality import kpi_tasks, kpis
from tests import factories
from tests.browser.pages import sign_in, stylesheet_applied
from tests.quality.conftest import add_schema
from utilities.periods import period_start, previous_period

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COLUMNS = [
    ("order_date", "date", "time", "internal"),
    ("region", "string", "dimension", "internal"),
    ("revenue", "float", "measure", "internal"),
    ("discount", "float", "measure", "internal"),
]
REGIONS = {"North": 1.0, "East": 0.8, "South": 1.15, "West": 0.6}


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    """Saving a KPI sends its computation after the commit: keep it off the embedded broker."""
    monkeypatch.setattr(kpi_tasks.compute_kpis, "apply_async", lambda **kwargs: None)


def orders(today) -> pd.DataFrame:
    """About 14 months of daily orders per region, growing slowly, with a weekly rhythm."""
    rows = []
    for back in range(430, -1, -1):
        day = today - timedelta(days=back)
        for region, scale in REGIONS.items():
            revenue = (2400 + (430 - back) * 3 + (350 if day.weekday() < 5 else -500)) * scale
            rows.append((day, region, round(revenue, 2), round(revenue * (0.03 + (back % 7) / 400), 2)))
    return pd.DataFrame(rows, columns=["order_date", "region", "revenue", "discount"])


def sales_product(data_root, steward):
    owner = factories.ProductManagerFactory(username="olivia", first_name="Olivia", last_name="Owner")
    product = factories.DataProductFactory(slug="sales", name="Sales intelligence", owner=owner, stewards=[steward])
    output = factories.OutputFactory(product=product, name="orders", path="sales/orders.parquet")
    add_schema(output, COLUMNS)
    (data_root / "sales").mkdir()
    orders(kpis.local_today()).to_parquet(data_root / "sales" / "orders.parquet")
    goal = factories.GoalFactory(product=product, title="Grow net revenue 12 % year over year")
    factories.HypothesisFactory(product=product, goal=goal, title="Bundles lift order value")

    def kpi(name, level, parent=None, **fields):
        values = {"aggregation": Aggregation.SUM, "column": "revenue", "grain": "month", "unit": "EUR", **fields}
        made = factories.KPIFactory(
            product=product, output=output, name=name, level=level, parent=parent, time_column="order_date",
            owner=owner, **values,
        )  # fmt: skip
        assert kpis.compute(made).status == "ok"
        return made

    revenue = kpi(
        "Net revenue", KPILevel.NORTH_STAR, target=330000, dimensions=["region"],
        definition="Revenue of **completed** orders after discounts, per month.",
    )  # fmt: skip
    revenue.goals.add(goal)
    product.north_star = revenue
    product.save()
    average = kpi("Average order value", KPILevel.L1, revenue, aggregation=Aggregation.AVG, target=2700)
    discount = kpi(
        "Discount rate", KPILevel.L2, average, aggregation=Aggregation.RATIO, column="discount",
        denominator_aggregation=Aggregation.SUM, denominator_column="revenue", unit="share", direction="down",
        target=0.04, grain="week",
    )  # fmt: skip
    kpi("Orders per day", KPILevel.L2, average, aggregation=Aggregation.COUNT, column="", unit="orders", grain="day")
    revenue.counter_metrics.add(discount)
    return product, revenue


def trend_spec(browser) -> dict:
    return json.loads(browser.find_element(By.ID, "chart-trend-spec").get_attribute("textContent"))


def drawn(browser, key: str) -> bool:
    return bool(browser.find_elements(By.CSS_SELECTOR, f"#chart-{key}.chart--drawn svg.main-svg"))


def test_a_new_date_range_redraws_the_trend(browser, live_server, data_root, artifacts):
    steward = factories.UserFactory(username="sam", first_name="Sam", last_name="Steward")
    product, revenue = sales_product(data_root, steward)
    sign_in(browser, live_server, "sam")
    browser.set_window_size(1366, 1500)
    browser.get(f"{live_server.url}/products/{product.slug}/kpis/{revenue.pk}/?dimension=region")
    WebDriverWait(browser, 20).until(lambda driver: drawn(driver, "trend") and drawn(driver, "card"))
    assert stylesheet_applied(browser)
    before = trend_spec(browser)["series"][0]["x"]
    assert len(before) >= 14  # the default window: two years of months, from the first stored month
    assert drawn(browser, "breakdown-latest") and drawn(browser, "breakdown-trend")
    browser.save_screenshot(str(artifacts / "kpi_page.png"))

    today = kpis.local_today()
    start = previous_period(previous_period(period_start(today, "month"), "month"), "month")
    browser.execute_script(
        "document.querySelector('[name=from]').value = arguments[0];"
        "document.querySelector('[name=to]').value = arguments[1];",
        start.isoformat(),
        today.isoformat(),
    )
    browser.find_element(By.CSS_SELECTOR, "[data-kpi-range] button[type=submit]").click()
    WebDriverWait(browser, 20).until(lambda driver: "from=" in driver.current_url and drawn(driver, "trend"))
    after = trend_spec(browser)["series"][0]["x"]
    assert after[0] == f"{start:%b %Y}" and len(after) == 3  # months are named on the axis
    assert after != before
    partial = trend_spec(browser)["series"][0]["partial"]
    assert partial == [False, False, True]  # the month in progress, drawn dotted
    caption = browser.find_element(By.CSS_SELECTOR, "#chart-trend .chart__title").text
    assert f"{start:%d %b %Y} to {today:%d %b %Y}" in caption
    assert browser.find_element(By.CSS_SELECTOR, "[name=from]").get_attribute("value") == start.isoformat()
    browser.save_screenshot(str(artifacts / "kpi_page_range.png"))


def test_the_tree_shows_a_card_per_kpi(browser, live_server, data_root, artifacts):
    steward = factories.UserFactory(username="sam", first_name="Sam", last_name="Steward")
    product, revenue = sales_product(data_root, steward)
    sign_in(browser, live_server, "sam")
    browser.set_window_size(1366, 1400)
    browser.get(f"{live_server.url}/products/{product.slug}/kpis/")
    WebDriverWait(browser, 20).until(
        lambda driver: len(driver.find_elements(By.CSS_SELECTOR, ".kpi-spark .chart--drawn")) == 4
    )
    cards = browser.find_elements(By.CSS_SELECTOR, "[data-kpi-card]")
    assert len(cards) == 4
    assert "counter-metrics" in cards[0].text.lower() and "Discount rate" in cards[0].text
    browser.save_screenshot(str(artifacts / "kpi_tree.png"))

    browser.get(f"{live_server.url}/products/{product.slug}/#kpis")
    panel = browser.find_element(By.ID, "kpis")
    assert len(panel.find_elements(By.CSS_SELECTOR, "[data-kpi-now]")) == 4
    panel.screenshot(str(artifacts / "kpi_panel.png"))
    browser.get(f"{live_server.url}/metrics/?product={product.slug}")
    assert len(browser.find_elements(By.CSS_SELECTOR, "[data-metric]")) == 4
    browser.save_screenshot(str(artifacts / "metrics.png"))
