"""The dashboard pages: a dashboard's page (range, filters, tiles), a product's dashboards, and the panel.

A tiny Parquet output holds orders (``day``, ``region``, ``revenue``, ``customer_id``), counted from a base
day twenty days ago; three KPIs over it (sum of revenue, distinct customers, average revenue), broken down by
region, are computed for real by ``quality.kpis.compute``:

    day        region  revenue  customer
    base + 0   North     1,000  c1        ┐
    base + 1   South       500  c2        │ the window before the range
    base + 3   North       300  c1        ┘
    base + 5   North     2,000  c1        ┐
    base + 5   South     1,000  c3        │
    base + 6   North       600  c1        │ the range: base + 5 … base + 9
    base + 7   South       400  c2        │
    base + 9   North     1,000  c4        ┘
    base + 12  North     9,990  c5          after the range

Over the range, all regions: revenue 5,000 EUR (before: 1,800 → +177.8 %); 4 distinct customers (c1–c4; the
daily distinct counts add up to 5) against 2 (+100 %); average 1,000 EUR (5,000 / 5) against 600 (+66.7 %).
North only: 3,600 EUR against 1,300 (+176.9 %); 2 customers (c1, c4) against 1 (+100 %); average 1,200 EUR
against 650 (+84.6 %).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pandas as pd
import pytest
from django.core.cache import cache
from django.urls import reverse

from products.choices import Aggregation, KPILevel
from products.models import KPI, Dashboard, RowFilter
from quality import kpis
from quality.dashboards import Tile
from quality.views_dashboards import MAX_DAYS, card_view
from tests import factories
from tests.quality.conftest import add_schema

pytestmark = pytest.mark.django_db

COLUMNS = [
    ("day", "date", "time", "internal"),
    ("region", "string", "dimension", "internal"),
    ("revenue", "float", "measure", "internal"),
    ("customer_id", "string", "key", "internal"),
]
ROWS = [
    (0, "North", 1000.0, "c1"),
    (1, "South", 500.0, "c2"),
    (3, "North", 300.0, "c1"),
    (5, "North", 2000.0, "c1"),
    (5, "South", 1000.0, "c3"),
    (6, "North", 600.0, "c1"),
    (7, "South", 400.0, "c2"),
    (9, "North", 1000.0, "c4"),
    (12, "North", 9990.0, "c5"),
]


@pytest.fixture(autouse=True)
def empty_cache():
    """Live tile values are cached under the KPI's and its last run's ids, which each test database reuses."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def base() -> date:
    return kpis.local_today() - timedelta(days=20)


@pytest.fixture
def orders(product, data_root, base):
    output = factories.OutputFactory(product=product, name="orders", path="orders/orders.parquet")
    add_schema(output, COLUMNS)
    (data_root / "orders").mkdir()
    frame = pd.DataFrame(
        [(base + timedelta(days=offset), region, revenue, customer) for offset, region, revenue, customer in ROWS],
        columns=["day", "region", "revenue", "customer_id"],
    )
    frame.to_parquet(data_root / "orders" / "orders.parquet")
    return output


def computed_kpi(output, name: str, aggregation: str, column: str, unit: str) -> KPI:
    kpi = factories.KPIFactory(
        product=output.product, output=output, name=name, level=KPILevel.L1, aggregation=aggregation,
        column=column, time_column="day", grain="day", unit=unit, dimensions=["region"],
    )  # fmt: skip
    run = kpis.compute(kpi)
    assert run.status == "ok", run.error
    return kpi


@pytest.fixture
def sales_kpis(orders) -> dict[str, KPI]:
    return {
        "revenue": computed_kpi(orders, "Revenue", Aggregation.SUM, "revenue", "EUR"),
        "customers": computed_kpi(orders, "Customers", Aggregation.COUNT_DISTINCT, "customer_id", "customers"),
        "average": computed_kpi(orders, "Average order", Aggregation.AVG, "revenue", "EUR"),
    }


@pytest.fixture
def dashboard(product, sales_kpis) -> Dashboard:
    return Dashboard.objects.create(
        product=product,
        name="Sales",
        description="Revenue and customers, **by region**.",
        default_days=7,
        filters=["region"],
        tiles=[
            {"show": "card", "kpi": "Revenue", "title": "Total revenue"},
            {"show": "card", "kpi": "Customers"},
            {"show": "card", "kpi": "Average order"},
            {"show": "trend", "kpi": "Revenue", "grain": "day", "title": "Daily revenue"},
            {"show": "breakdown", "kpi": "Revenue", "dimension": "region", "title": "Revenue by region"},
            {"show": "distribution", "kpi": "Revenue", "column": "region", "title": "Orders by region"},
        ],
    )


def url(dashboard: Dashboard, **query) -> str:
    return dashboard.get_absolute_url() + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def in_range(base: date, **query) -> dict:
    return {"from": base + timedelta(days=5), "to": base + timedelta(days=9), **query}


def page(client, user, address: str, status: int = 200) -> str:
    client.force_login(user)
    response = client.get(address)
    assert response.status_code == status
    return response.content.decode()


def cards(html: str) -> dict[str, dict[str, str]]:
    """Each card's title → its value and change, as the reader sees them."""
    found = {}
    for block in re.findall(r'<article class="dashboard-card.*?</article>', html, re.S):
        title = re.search(r'dashboard-card__title">(.*?)<', block).group(1)
        value = re.search(r"data-card-value>(.*?)<", block)
        change = re.search(r"data-card-change>(.*?)</p>", block, re.S)
        found[title] = {
            "value": value.group(1) if value else "",
            "change": " ".join(re.sub(r"<[^>]+>", " ", change.group(1)).split()) if change else "",
            "tone": re.search(r"tone-card--(\w+)", block).group(1),
        }
    return found


def chart_rows(html: str, key: str) -> list[str]:
    """The row headers of a chart's data table."""
    figure = re.search(rf'<figure[^>]*id="chart-{key}".*?</figure>', html, re.S).group(0)
    return re.findall(r'<th scope="row">(.*?)</th>', figure)


# --- Known answers -------------------------------------------------------------------------------


def test_the_cards_show_the_range_against_the_range_before(client, charlie, dashboard, base):
    html = page(client, charlie, url(dashboard, **in_range(base)))
    found = cards(html)
    assert found["Total revenue"] == {
        "value": "5,000 EUR",
        "change": "▲ +177.8 % vs 1,800 EUR before (better)",
        "tone": "good",
    }
    # Distinct over the whole range (c1–c4), not the sum of the daily distinct counts (5).
    assert found["Customers"]["value"] == "4 customers"
    assert found["Customers"]["change"] == "▲ +100.0 % vs 2 customers before (better)"
    assert found["Average order"]["value"] == "1,000 EUR"
    assert found["Average order"]["change"] == "▲ +66.7 % vs 600 EUR before (better)"
    start, end = base + timedelta(days=5), base + timedelta(days=9)
    assert f"{start:%-d %b %Y} – {end:%-d %b %Y}" in html
    assert "<strong>by region</strong>" in html  # the description, as markdown


def test_a_region_narrows_every_tile(client, charlie, dashboard, base):
    html = page(client, charlie, url(dashboard, **in_range(base, region="North")))
    found = cards(html)
    assert found["Total revenue"]["value"] == "3,600 EUR"
    assert found["Total revenue"]["change"] == "▲ +176.9 % vs 1,300 EUR before (better)"
    assert found["Customers"]["value"] == "2 customers"
    assert found["Customers"]["change"] == "▲ +100.0 % vs 1 customers before (better)"
    assert found["Average order"]["value"] == "1,200 EUR"
    assert found["Average order"]["change"] == "▲ +84.6 % vs 650 EUR before (better)"
    assert chart_rows(html, "tile-4") == ["North"]
    assert 'value="North" checked' in html


def test_the_charts_follow_the_range(client, charlie, dashboard, base):
    html = page(client, charlie, url(dashboard, **in_range(base)))
    days = chart_rows(html, "tile-3")
    assert len(days) == 5  # every day of the range, empty ones too
    assert chart_rows(html, "tile-4") == ["North", "South"]  # the breakdown, largest first
    assert chart_rows(html, "tile-5") == ["North", "South"]  # the distribution's values
    assert html.count('data-tile="trend"') == html.count('data-tile="breakdown"') == 1


def test_the_default_window_is_the_last_default_days(client, charlie, dashboard):
    html = page(client, charlie, url(dashboard))
    today = kpis.local_today()
    assert f'name="from" value="{today - timedelta(days=6):%Y-%m-%d}"' in html
    assert f'name="to" value="{today:%Y-%m-%d}"' in html
    assert cards(html)["Total revenue"]["value"] == "0 EUR"  # nothing sold in the last week


def test_an_empty_chart_says_so_instead_of_a_blank_box(client, charlie, dashboard, base):
    day = base - timedelta(days=100)
    html = page(client, charlie, url(dashboard, **{"from": day, "to": day}))
    distribution = re.search(r'data-tile="distribution">(.*?)</div>', html, re.S).group(1)
    assert "Orders by region" in distribution and "No data in this range." in distribution
    assert "<figure" not in distribution
    average = re.search(r'data-kpi="Average order">(.*?)</article>', html, re.S).group(1)
    assert "No data in this range." in average  # an average of no orders is no value, not 0


def test_a_tile_whose_kpi_is_gone_shows_its_error(client, charlie, dashboard, sales_kpis):
    Dashboard.objects.filter(pk=dashboard.pk).update(tiles=[*dashboard.tiles, {"show": "trend", "kpi": "Gone"}])
    html = page(client, charlie, url(dashboard))
    assert "This KPI is no longer part of the product." in html


def test_shares_are_percentages_and_units_group_thousands():
    share = KPI(name="Discount rate", unit="share")
    view = card_view(Tile("card", "Discount rate", share, value=0.042, previous=0.05, change_percent=-16.0))
    assert (view.value, view.previous, view.change, view.arrow) == ("4.2 %", "5 %", "−16.0 %", "▼")
    money = card_view(Tile("card", "Revenue", KPI(name="Revenue", unit="EUR"), value=1234567.8))
    assert money.value == "1,234,568 EUR"


# --- Bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"from": "yesterday"}, "From: Enter a valid date."),
        ({"to": "2026-02-31"}, "To: Enter a valid date."),
        ({"from": "2026-03-02", "to": "2026-03-01"}, "From: From must be on or before To."),
        ({"from": "2000-01-01", "to": "2026-01-01"}, f"From: Choose a shorter range: at most {MAX_DAYS:,} days."),
        ({"region": "Atlantis"}, "Region: Select a valid choice. Atlantis is not one of the available choices."),
    ],
)
def test_bad_input_is_named_and_the_defaults_are_shown(client, charlie, dashboard, query, message):
    html = page(client, charlie, url(dashboard, **query))
    assert "data-filter-errors" in html
    assert message in html
    today = kpis.local_today()
    assert f'name="from" value="{today - timedelta(days=6):%Y-%m-%d}"' in html
    assert f'name="to" value="{today:%Y-%m-%d}"' in html
    assert cards(html)["Total revenue"]["value"] == "0 EUR"


def test_a_bad_member_keeps_the_dates_chosen(client, charlie, dashboard, base):
    html = page(client, charlie, url(dashboard, **in_range(base, region="Atlantis")))
    assert "Region: Select a valid choice." in html
    assert cards(html)["Total revenue"]["value"] == "5,000 EUR"  # all regions, over the range asked for


# --- Who sees what ----------------------------------------------------------------------------


def test_a_row_filtered_reader_sees_only_their_region(client, charlie, dashboard, orders, base):
    RowFilter.objects.create(output=orders, user=charlie, column="region", values=["North"])
    html = page(client, charlie, url(dashboard, **in_range(base)))
    choices = re.findall(r'<input type="checkbox" name="region" value="(\w+)"', html)
    assert choices == ["North"]
    assert chart_rows(html, "tile-4") == ["North"]
    html = page(client, charlie, url(dashboard, **in_range(base, region="South")))
    assert "Region: Select a valid choice. South is not one of the available choices." in html


def test_the_owner_sees_every_region(client, alice, dashboard, orders, charlie, base):
    RowFilter.objects.create(output=orders, user=charlie, column="region", values=["North"])
    html = page(client, alice, url(dashboard, **in_range(base)))
    assert re.findall(r'<input type="checkbox" name="region" value="(\w+)"', html) == ["North", "South"]


def test_outsiders_get_404(client, charlie, dashboard, product):
    product.status = "draft"
    product.save()
    page(client, charlie, url(dashboard), status=404)
    page(client, charlie, reverse("dashboards:list", args=[product.slug]), status=404)


def test_a_dashboard_of_another_product_is_404(client, alice, dashboard):
    other = factories.DataProductFactory(slug="elsewhere", owner=alice)
    page(client, alice, reverse("dashboards:detail", args=[other.slug, dashboard.pk]), status=404)


def test_anonymous_readers_are_sent_to_sign_in(client, dashboard):
    response = client.get(url(dashboard))
    assert response.status_code == 302 and "/login/" in response.url


def test_the_page_takes_a_bounded_number_of_queries(client, charlie, dashboard, base, django_assert_max_num_queries):
    client.force_login(charlie)
    client.get(url(dashboard, **in_range(base)))  # fills the cache of live values
    with django_assert_max_num_queries(45):
        assert client.get(url(dashboard, **in_range(base, region="North"))).status_code == 200


# --- The list and the panel -------------------------------------------------------------------


def test_the_product_page_links_straight_to_its_only_dashboard(client, charlie, dashboard, product):
    html = page(client, charlie, product.get_absolute_url())
    assert 'id="dashboards"' in html
    assert f'href="{dashboard.get_absolute_url()}">Sales</a>' in html
    assert f'href="{reverse("dashboards:list", args=[product.slug])}"' not in html


def test_the_panel_lists_several_dashboards_and_links_the_list(client, charlie, dashboard, product):
    other = Dashboard.objects.create(product=product, name="Customers", tiles=[], order=1)
    html = page(client, charlie, product.get_absolute_url())
    assert f'href="{other.get_absolute_url()}">Customers</a>' in html
    assert f'href="{reverse("dashboards:list", args=[product.slug])}">All 2 dashboards</a>' in html
    listing = page(client, charlie, reverse("dashboards:list", args=[product.slug]))
    assert dashboard.get_absolute_url() in listing and other.get_absolute_url() in listing


def test_a_product_without_dashboards_has_no_panel(client, charlie, product):
    assert 'id="dashboards"' not in page(client, charlie, product.get_absolute_url())
