"""The chart component's Python side: the spec and table a chart sends, its template tag, and the vendored Plotly."""

import json
import math
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.template import engines

from utilities.charts import Chart, Series, format_number
from utilities.vendor_static import VendorFinder

PLOTLY = "vendor/plotly/plotly.min.js"


def two_series() -> Chart:
    north = Series("North", [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)], [10, math.nan, 12.5], [0, 0, 1])
    south = Series("South", [date(2026, 2, 1), date(2026, 4, 1)], [Decimal("7.25"), None])
    return Chart("orders", "Orders", "line", "Month", "Orders", [north, south], unit="orders", target=11)


def render(source: str, **context) -> str:
    return engines["django"].from_string("{% load lodestar %}" + source).render(context)


def test_spec_is_json_ready_with_iso_dates_and_no_nan():
    spec = two_series().spec()

    assert json.loads(json.dumps(spec, allow_nan=False)) == spec
    north, south = spec["series"]
    assert north["x"] == ["2026-01-01", "2026-02-01", "2026-03-01"]
    assert north["y"] == [10, None, 12.5]
    assert north["partial"] == [False, False, True]
    assert south["y"] == [7.25, None]
    assert south["partial"] == [False, False]
    assert spec["target"] == 11
    assert spec["filename"] == "orders"
    assert spec["table"] == {"header": ["Month", "North", "South"], "rows": spec["table"]["rows"]}


def test_table_has_a_row_per_x_in_order_of_first_appearance():
    header, rows = two_series().table()

    assert header == ["Month", "North", "South"]
    assert rows == [
        ["2026-01-01", 10, None],
        ["2026-02-01", None, 7.25],
        ["2026-03-01", 12.5, None],
        ["2026-04-01", None, None],
    ]


def test_aware_times_are_sent_in_the_current_time_zone_without_offset(settings):
    settings.TIME_ZONE = "Europe/Paris"
    chart = Chart("t", "T", "line", "When", "N", [Series("n", [datetime(2026, 1, 1, 12, tzinfo=UTC)], [1])])

    assert chart.spec()["series"][0]["x"] == ["2026-01-01T13:00:00"]


@pytest.mark.parametrize(
    "problem",
    [
        {"key": "has space"},
        {"kind": "pie"},
        {"x_type": "log"},
    ],
)
def test_it_refuses_a_chart_it_cannot_draw(problem):
    with pytest.raises(ValueError):
        fields = {"key": "k", "title": "T", "kind": "bar", "x_label": "X", "y_label": "Y", "series": []}
        Chart(**(fields | problem))


@pytest.mark.parametrize(("y", "partial"), [([1], []), ([1, 2], [True])])
def test_a_series_needs_a_y_and_a_partial_flag_per_x(y, partial):
    with pytest.raises(ValueError):
        Series("s", [1, 2], y, partial)


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "—"), (0, "0"), (1234567, "1,234,567"), (1234.5, "1,234.5"), (0.125, "0.12"), (2.0, "2"), (-0.001, "0")],
)
def test_table_numbers_are_grouped_with_at_most_two_decimals(value, text):
    assert format_number(value) == text


def test_the_tag_renders_title_table_and_spec():
    html = render("{% chart chart %}", chart=two_series())

    assert '<figure class="chart chart--line" id="chart-orders" data-chart data-spec="chart-orders-spec">' in html
    assert '<figcaption class="chart__title">Orders</figcaption>' in html
    assert '<script id="chart-orders-spec" type="application/json">' in html
    assert 'role="img" aria-label="Orders"' in html
    assert '<details class="chart__data" data-chart-table open>' in html
    assert '<th scope="row">2026-02-01</th>' in html
    assert '<td class="num">7.25</td>' in html
    assert '<td class="num">12.5 <span class="chart__partial">(partial)</span></td>' in html
    assert '<td class="num">—</td>' in html
    spec = html.split('type="application/json">')[1].split("</script>")[0]
    assert json.loads(spec) == two_series().spec()


def test_the_spec_cannot_close_its_script():
    chart = Chart(
        "x", "</script><script>alert(1)</script>", "bar", "X", "Y", [Series("s", ["a"], [1])], x_type="category"
    )

    html = render("{% chart chart %}", chart=chart)

    assert "<script>alert(1)" not in html


def test_the_scripts_come_once_per_page():
    html = render("{% chart_assets %}{% chart a %}{% chart b %}", a=two_series(), b=two_series())

    assert html.count(PLOTLY) == 1
    assert html.count("js/charts.js") == 1
    assert html.index(PLOTLY) < html.index("<figure")
    assert render("{% chart a %}{% chart b %}", a=two_series(), b=two_series()).count(PLOTLY) == 1
    assert render("<p>no charts</p>").count(PLOTLY) == 0


def test_the_finder_finds_plotly_in_its_package():
    found = VendorFinder().find(PLOTLY)

    assert Path(found).name == "plotly.min.js"
    assert Path(found).parent.parts[-2:] == ("plotly", "package_data")
    assert VendorFinder().find(PLOTLY, find_all=True) == [found]


def test_the_finder_lists_only_the_vendored_files():
    listed = [(storage.prefix, path, storage.path(path)) for path, storage in VendorFinder().list([])]

    assert [(prefix, path) for prefix, path, _ in listed] == [("vendor/plotly", "plotly.min.js")]
    assert listed[0][2] == VendorFinder().find(PLOTLY)
    assert list(VendorFinder().list(["*.js"])) == []


def test_the_finder_knows_nothing_else():
    assert VendorFinder().find("vendor/plotly/plotly.js") == []
    assert VendorFinder().find("plotly/package_data/plotly.min.js", find_all=True) == []


def test_the_finder_checks_the_package_ships_the_file():
    assert VendorFinder().check() == []
    missing = VendorFinder(table={"vendor/x/x.js": ("plotly", "package_data/x.js")}).check()
    assert [error.id for error in missing] == ["lodestar.E101"]
