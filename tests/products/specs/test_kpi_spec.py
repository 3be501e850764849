"""KPI series settings and dashboards in the YAML spec: round trip, and bad input named by its path."""

import copy

import pytest

from products.models import KPI, Dashboard
from products.specs.document import to_document
from products.specs.importer import import_documents
from products.specs.loader import SpecErrors

from .conftest import counts, documents, spec_of

pytestmark = pytest.mark.django_db

TILES = [
    {"show": "card", "kpi": "Revenue", "title": "Total revenue"},
    {"show": "trend", "kpi": "Revenue", "grain": "month"},
    {"show": "breakdown", "kpi": "Revenue", "dimension": "region", "window": "latest"},
    {"show": "distribution", "kpi": "Orders", "column": "amount"},
]


@pytest.fixture
def spec(product) -> dict:
    """cross-sell's document with two computed KPIs, a counter-metric and a dashboard, imported once by alice."""
    data = spec_of(product)
    data["spec"] |= {
        "outputs": [
            {
                "name": "orders",
                "kind": "file",
                "format": "parquet",
                "path": "cross-sell/orders.parquet",
                "columns": [
                    {"name": "ordered_at", "type": "timestamp", "role": "time"},
                    {"name": "region", "type": "string", "role": "dimension"},
                    {"name": "amount", "type": "decimal", "role": "measure"},
                ],
            }
        ],
        "kpis": [
            {
                "name": "Revenue",
                "level": "north_star",
                "output": "orders",
                "aggregation": "sum",
                "column": "amount",
                "filter": "region <> 'Test'",
                "time_column": "ordered_at",
                "grain": "month",
                "dimensions": ["region"],
                "schedule": "5 3 * * *",
                "alert_rule": "baseline",
                "baseline_periods": 6,
                "baseline_k": 2.5,
                "counter_metrics": ["Orders"],
            },
            {
                "name": "Orders",
                "level": "l1",
                "parent": "Revenue",
                "output": "orders",
                "aggregation": "count",
                "time_column": "ordered_at",
                "alert_rule": "static",
                "alert_min": 10,
                "status": "deprecated",
            },
        ],
        "north_star": "Revenue",
        "dashboards": [
            {
                "name": "Sales",
                "description": "Revenue at a glance.",
                "default_days": 60,
                "filters": ["region"],
                "tiles": TILES,
            },
        ],  # fmt: skip
    }
    import_documents(documents(data), user=product.owner)
    return spec_of(product)


def test_the_settings_and_the_dashboard_are_imported(spec, product):
    revenue = KPI.objects.get(product=product, name="Revenue")
    assert (revenue.dimensions, revenue.schedule, revenue.alert_rule, revenue.baseline_periods, revenue.baseline_k) == (
        ["region"],
        "5 3 * * *",
        "baseline",
        6,
        2.5,
    )
    assert [kpi.name for kpi in revenue.counter_metrics.all()] == ["Orders"]
    assert KPI.objects.get(product=product, name="Orders").status == "deprecated"
    board = Dashboard.objects.get(product=product)
    assert (board.name, board.default_days, board.filters, board.tiles) == ("Sales", 60, ["region"], TILES)


def test_the_export_gives_back_what_was_imported(spec, product):
    exported = to_document(product)["spec"]
    revenue = next(kpi for kpi in exported["kpis"] if kpi["name"] == "Revenue")
    assert revenue["counter_metrics"] == ["Orders"] and revenue["dimensions"] == ["region"]
    assert exported["dashboards"][0]["tiles"] == TILES
    before = counts()
    report = import_documents(documents(spec), user=product.owner)
    assert counts() == before and not any(item.lines for item in report.products)


def named(spec: dict, name: str) -> dict:
    return next(kpi for kpi in spec["kpis"] if kpi["name"] == name)


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        # The export lists KPIs by name: kpis[0] is Orders, kpis[1] Revenue.
        (lambda s: named(s, "Revenue").update(dimensions=["colour"]), "spec.kpis[1].dimensions", "no column 'colour'"),
        (lambda s: named(s, "Revenue").update(filter="region = "), "spec.kpis[1].filter", "expected a value"),
        (lambda s: named(s, "Revenue").update(counter_metrics=["Profit"]), "spec.kpis[1].counter_metrics[0]", "no kpi"),
        (lambda s: named(s, "Revenue").update(counter_metrics=["Revenue"]), "spec.kpis[1].counter_metrics", "its own"),
        (lambda s: named(s, "Orders").pop("alert_min"), "spec.kpis[0].alert_min", "lower bound"),
        (lambda s: named(s, "Revenue").update(schedule="hourly"), "spec.kpis[1].schedule", "5 fields"),
        (
            lambda s: s["dashboards"][0]["tiles"].append({"show": "pie", "kpi": "Revenue"}),
            "spec.dashboards[0].tiles[4].show",
            "expected one of",
        ),
        (
            lambda s: s["dashboards"][0]["tiles"].append({"show": "card", "kpi": "Profit"}),
            "spec.dashboards[0]",
            "Profit",
        ),
        (
            lambda s: s["dashboards"][0]["tiles"].append({"show": "breakdown", "kpi": "Orders", "dimension": "region"}),
            "spec.dashboards[0].tiles",
            "does not break down by 'region'",
        ),
        (lambda s: s["dashboards"][0].update(filters=["channel"]), "spec.dashboards[0].filters", "'channel'"),
    ],
)
def test_bad_settings_are_refused_at_their_path_and_change_nothing(spec, product, change, path, message):
    bad = copy.deepcopy(spec)
    change(bad["spec"])
    before = counts()
    with pytest.raises(SpecErrors) as caught:
        import_documents(documents(bad), user=product.owner)
    assert any(error.path.startswith(path) and message in error.message for error in caught.value.errors), [
        (error.path, error.message) for error in caught.value.errors
    ]
    assert counts() == before
