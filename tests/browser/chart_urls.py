"""A page with two charts for the chart component's browser test, beside the hub's own URLs (for the top bar)."""

from datetime import date
from pathlib import Path

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.template import engines
from django.urls import include, path

from utilities.charts import Chart, Series

PAGE = Path(__file__).with_name("chart_page.html")


def monthly_orders() -> Chart:
    months = [date(2025, month, 1) for month in range(1, 13)]
    orders = [1180, 1242, 1315, 1290, 1402, 1468, 1391, 1525, 1610, 1587, 1694, 702.5]
    return Chart(
        key="orders",
        title="Orders per month",
        kind="line",
        x_label="Month",
        y_label="Orders",
        unit="orders",
        target=1500,
        series=[Series(name="Orders", x=months, y=orders, partial=[False] * 11 + [True])],
        filename="orders-per-month",
    )


def revenue_by_region() -> Chart:
    return Chart(
        key="regions",
        title="Revenue by region",
        kind="bar",
        x_type="category",
        x_label="Region",
        y_label="Revenue (EUR)",
        unit="EUR",
        series=[Series(name="Revenue", x=["North", "East", "South", "West"], y=[48210.5, 39120, 51877.25, 27400])],
    )


def charts() -> list[Chart]:
    return [monthly_orders(), revenue_by_region()]


@login_not_required
def chart_page(request):
    page = engines["django"].from_string(PAGE.read_text())
    return HttpResponse(page.render({"charts": charts()}, request))


urlpatterns = [
    path("test/charts/", chart_page, name="test-charts"),
    path("", include("hub.urls")),
]
