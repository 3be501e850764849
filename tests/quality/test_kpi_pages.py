"""The KPI pages: a KPI's page, a product's KPI tree, the values on the product page, and the metric registry.

A tiny Parquet output holds one row per day and region (``day``, ``region``, ``amount``), computed for real
by ``quality.kpis.compute``; the KPI sums ``amount`` by day and breaks it down by region:

    day            North   South   total
    today - 2        150      50     200
    today - 1        100     150     250   ← the latest complete period
    today             40       —      40   ← in progress ("so far")

So the card shows 250 EUR, +50 EUR (+25 %) against the day before, good (higher is better), and
83 % of the 300 EUR target: off target.
"""

from datetime import date, timedelta

import pandas as pd
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from kombu.exceptions import OperationalError

from products import panels
from products.choices import Aggregation, KPILevel, KPIStatus
from products.forms import KPIForm
from products.models import RowFilter
from quality import kpi_tasks, kpis, series
from quality.models import KPIRun
from quality.views_kpis import cards_for, change_text, period_label, spark_start, value_text
from tests import factories
from tests.quality.conftest import add_schema

pytestmark = pytest.mark.django_db

COLUMNS = [
    ("day", "date", "time", "internal"),
    ("region", "string", "dimension", "internal"),
    ("amount", "float", "measure", "internal"),
]


@pytest.fixture
def today() -> date:
    return kpis.local_today()


@pytest.fixture
def sales(product, data_root, today):
    output = factories.OutputFactory(product=product, name="sales", path="sales/sales.parquet")
    add_schema(output, COLUMNS)
    (data_root / "sales").mkdir()
    rows = [
        (today - timedelta(days=2), "North", 150.0),
        (today - timedelta(days=2), "South", 50.0),
        (today - timedelta(days=1), "North", 100.0),
        (today - timedelta(days=1), "South", 150.0),
        (today, "North", 40.0),
    ]
    frame = pd.DataFrame(rows, columns=["day", "region", "amount"])
    frame["email"] = [f"person{index}@example.com" for index in range(len(rows))]  # declared by one test only
    frame.to_parquet(data_root / "sales" / "sales.parquet")
    return output


def sales_kpi(output, **fields):
    values = {
        "name": "Daily revenue",
        "level": KPILevel.NORTH_STAR,
        "aggregation": Aggregation.SUM,
        "column": "amount",
        "time_column": "day",
        "grain": "day",
        "unit": "EUR",
        "target": 300,
        "dimensions": ["region"],
        **fields,
    }
    return factories.KPIFactory(product=output.product, output=output, **values)


def computed(kpi):
    run = kpis.compute(kpi)
    assert run.status == "ok", run.error
    return kpi


@pytest.fixture
def kpi(sales):
    return computed(sales_kpi(sales))


@pytest.fixture
def sent(monkeypatch) -> list[dict]:
    """The computations sent to the broker, instead of sending them."""
    messages = []
    monkeypatch.setattr(kpi_tasks.compute_kpis, "apply_async", lambda **kwargs: messages.append(kwargs))
    return messages


def detail_url(kpi, **query) -> str:
    url = reverse("kpis:detail", args=[kpi.product.slug, kpi.pk])
    return url + ("?" + "&".join(f"{name}={value}" for name, value in query.items()) if query else "")


def page(client, user, url: str, status: int = 200) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == status
    return response.content.decode()


# --- Words and numbers ------------------------------------------------------------------------


def test_values_are_grouped_and_shares_are_percentages():
    assert value_text(312400.4, "EUR") == "312,400 EUR"
    assert value_text(2.875, "items") == "2.88 items"
    assert value_text(0.0426, "share") == "4.3 %"
    assert value_text(None, "EUR") == "—"
    assert change_text(-0.005, "share") == "−0.5 pp"
    assert change_text(-0.00041, "share") == "−0.04 pp"
    assert change_text(12300, "EUR") == "+12,300 EUR"


def test_periods_are_labelled_by_grain():
    assert period_label(date(2026, 10, 1), "month") == "Oct 2026"
    assert period_label(date(2026, 11, 16), "week") == "Week of 16 Nov"
    assert period_label(date(2026, 11, 22), "day") == "22 Nov"
    assert period_label(date(2026, 10, 1), "quarter") == "Q4 2026"


# --- The KPI page -----------------------------------------------------------------------------


def test_the_card_shows_the_latest_complete_period_against_the_one_before(client, charlie, kpi, today):
    html = page(client, charlie, detail_url(kpi))
    yesterday = today - timedelta(days=1)
    assert '<span class="kpi-card__value" data-kpi-value>250 EUR</span>' in html
    assert f'<span class="kpi-card__period">{yesterday.day} {yesterday:%b}</span>' in html
    assert "+50 EUR (+25 %)" in html
    assert "kpi-change kpi-change--good" in html
    assert "83 % of target 300 EUR" in html
    assert 'data-kpi-status="off">Off target' in html
    assert f"40 EUR so far in {today.day} {today:%b}" in html
    assert 'id="chart-card"' in html and 'id="chart-trend"' in html  # the sparkline and the trend


def test_a_falling_value_of_a_lower_is_better_kpi_is_good(client, charlie, sales):
    kpi = computed(sales_kpi(sales, direction="down", target=None, name="Costs"))
    html = page(client, charlie, detail_url(kpi))
    assert "kpi-change kpi-change--bad" in html  # 200 → 250 is worse when lower is better
    assert "No target" in html


def test_an_uncomputed_kpi_says_so(client, charlie, sales):
    kpi = sales_kpi(sales)
    html = page(client, charlie, detail_url(kpi))
    assert "Not computed yet" in html
    assert "data-kpi-value" not in html


def test_a_failed_computation_shows_its_error(client, charlie, sales, data_root):
    kpi = computed(sales_kpi(sales))
    (data_root / "sales" / "sales.parquet").unlink()
    run = kpis.compute(kpi)
    assert run.status == "error"
    html = page(client, charlie, detail_url(kpi))
    assert "Last computation failed" in html
    assert "data-kpi-error" in html


def test_the_page_shows_definition_goals_hypotheses_parent_and_children(client, charlie, kpi, product):
    goal = factories.GoalFactory(product=product, title="Grow revenue")
    hypothesis = factories.HypothesisFactory(product=product, goal=goal, title="Bundles sell")
    kpi.goals.add(goal)
    kpi.definition = "Revenue of **all** orders."
    kpi.save()
    child = factories.KPIFactory(product=product, parent=kpi, name="Orders", level=KPILevel.L1)
    html = page(client, charlie, detail_url(kpi))
    assert "<strong>all</strong>" in html
    assert "sum(amount) by day over sales" in html
    assert f'{product.get_absolute_url()}#goal-{goal.pk}">Grow revenue' in html
    assert f'{product.get_absolute_url()}#hypothesis-{hypothesis.pk}">Bundles sell' in html
    assert f'{reverse("kpis:detail", args=[product.slug, child.pk])}">Orders' in html
    child_page = page(client, charlie, detail_url(child))
    assert f'{detail_url(kpi)}">Daily revenue' in child_page


def test_outsiders_get_404_for_a_draft_and_anonymous_users_sign_in(client, charlie, draft, alice):
    kpi = factories.KPIFactory(product=draft)
    assert page(client, alice, detail_url(kpi)) is not None
    page(client, charlie, detail_url(kpi), status=404)
    page(client, charlie, reverse("kpis:tree", args=[draft.slug]), status=404)
    client.logout()
    assert client.get(detail_url(kpi)).status_code == 302


def test_a_kpi_of_another_product_is_not_found_under_this_one(client, alice, kpi, draft):
    other = factories.KPIFactory(product=draft)
    page(client, alice, reverse("kpis:detail", args=[kpi.product.slug, other.pk]), status=404)


# --- The date range ---------------------------------------------------------------------------


def test_a_range_and_grain_redraw_the_trend(client, charlie, kpi, today):
    start = today - timedelta(days=2)
    html = page(client, charlie, detail_url(kpi, **{"from": start.isoformat(), "to": today.isoformat()}))
    assert f"by day, {start:%d %b %Y} to {today:%d %b %Y}" in html
    assert "data-range-errors" not in html
    weekly = page(client, charlie, detail_url(kpi, grain="week"))
    assert "Daily revenue by week" in weekly


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"from": "2026-13-45"}, "From: Enter a valid date."),
        ({"to": "yesterday"}, "To: Enter a valid date."),
        ({"grain": "fortnight"}, "Grain: Select a valid choice."),
        ({"from": "2026-05-02", "to": "2026-05-01"}, "From: From must be on or before To."),
        ({"dimension": "email"}, "Dimension: Select a valid choice."),
        ({"from": "1900-01-01", "to": "2026-01-01"}, "From: Choose a shorter range"),
    ],
)
def test_bad_range_input_names_the_field_and_shows_the_defaults(client, charlie, kpi, query, message):
    html = page(client, charlie, detail_url(kpi, **query))
    assert "data-range-errors" in html
    assert message in html
    assert "Daily revenue by day" in html  # the default trend is drawn anyway


def test_grains_offered_are_the_stored_ones(client, charlie, kpi):
    html = page(client, charlie, detail_url(kpi, grain="quarter"))  # a daily KPI stores day, week and month
    assert "Grain: Select a valid choice." in html


# --- The breakdown ----------------------------------------------------------------------------


def test_the_breakdown_shows_each_member_and_links_readers_to_the_rows(client, bob, kpi):
    html = page(client, bob, detail_url(kpi, dimension="region"))
    assert 'id="chart-breakdown-latest"' in html and 'id="chart-breakdown-trend"' in html
    assert '<th scope="row">North</th>\n            <td class="num">100 EUR</td>' in html
    assert '<th scope="row">South</th>\n            <td class="num">150 EUR</td>' in html
    preview = reverse("products:output-preview", args=[kpi.product.slug, "sales"])
    assert f'href="{preview}?filter=region%3ANorth" data-drill-down' in html


def test_a_row_filtered_viewer_sees_only_their_members_and_no_drill_down(client, charlie, kpi):
    RowFilter.objects.create(output=kpi.output, user=charlie, column="region", values=["North"])
    html = page(client, charlie, detail_url(kpi, dimension="region"))
    assert '<th scope="row">North</th>' in html
    assert "South" not in html
    assert "data-drill-down" not in html  # charlie may see the product, not read its output


def test_a_personal_dimension_is_broken_down_only_for_readers_in_clear(client, charlie, alice, sales):
    email = factories.OutputColumnFactory(output=sales, name="email", data_type="string", classification="pii")
    kpi = computed(sales_kpi(sales, dimensions=["region", email.name]))
    html = page(client, charlie, detail_url(kpi, dimension="email"))
    assert "Dimension: Select a valid choice." in html
    assert '<option value="email"' not in html
    assert '<option value="email"' in page(client, alice, detail_url(kpi))  # the owner reads in clear


# --- Compute now ------------------------------------------------------------------------------


def compute_url(kpi) -> str:
    return reverse("kpis:compute", args=[kpi.product.slug, kpi.pk])


def test_compute_now_is_refused_to_a_viewer(client, charlie, kpi, sent):
    client.force_login(charlie)
    assert client.post(compute_url(kpi)).status_code == 403
    assert sent == []


def test_compute_now_queues_for_a_steward(client, bob, kpi, sent):
    client.force_login(bob)
    response = client.post(compute_url(kpi), follow=True)
    assert response.redirect_chain == [(detail_url(kpi), 302)]
    assert [message["kwargs"] for message in sent] == [{"kpi_ids": [kpi.pk], "trigger": "request", "user_id": bob.pk}]
    assert "Queued a computation of Daily revenue" in response.content.decode()


def test_compute_now_says_so_when_the_broker_is_down(client, bob, kpi, monkeypatch):
    def unreachable(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(kpi_tasks.compute_kpis, "apply_async", unreachable)
    client.force_login(bob)
    response = client.post(compute_url(kpi), follow=True)
    assert "The task queue cannot be reached" in response.content.decode()


def test_compute_now_refuses_a_kpi_without_a_calculation(client, bob, product, sent):
    kpi = factories.KPIFactory(product=product)
    client.force_login(bob)
    response = client.post(compute_url(kpi), follow=True)
    assert "cannot be computed" in response.content.decode()
    assert sent == []


def test_compute_now_only_takes_posts(client, bob, kpi):
    client.force_login(bob)
    assert client.get(compute_url(kpi)).status_code == 405


# --- The tree and the product page ------------------------------------------------------------


def tree_of(product, output, count: int = 8):
    """A north star and ``count - 1`` children, computed, one of them counter-metric of the north star."""
    root = computed(sales_kpi(output, name="Revenue", dimensions=[]))
    children = [
        computed(sales_kpi(output, name=f"Driver {index}", level=KPILevel.L1, parent=root, dimensions=[]))
        for index in range(count - 1)
    ]
    root.counter_metrics.add(children[0])
    return root, children


def test_the_tree_shows_each_active_kpi_as_a_card_and_deprecated_ones_apart(client, charlie, product, sales):
    root, children = tree_of(product, sales, count=3)
    old = factories.KPIFactory(product=product, name="Old metric", status=KPIStatus.DEPRECATED)
    goal = factories.GoalFactory(product=product, title="Grow revenue")
    root.goals.add(goal)
    html = page(client, charlie, reverse("kpis:tree", args=[product.slug]))
    assert html.count("data-kpi-card") == 3
    assert f'id="chart-kpi-{root.pk}"' in html
    assert 'aria-label="Counter-metrics of Revenue"' in html
    assert f'id="kpi-card-{old.pk}"' not in html
    deprecated = html[html.index('id="deprecated"') :]
    assert "Old metric" in deprecated
    assert f"#goal-{goal.pk}" in html


def test_the_tree_page_takes_bounded_queries(client, charlie, product, sales, django_assert_max_num_queries):
    tree_of(product, sales, count=8)
    client.force_login(charlie)
    with django_assert_max_num_queries(15):  # the same with 3 KPIs or 300: two queries for all the cards
        assert client.get(reverse("kpis:tree", args=[product.slug])).status_code == 200


def queries_of(client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return len(context)


def test_the_product_page_shows_values_and_links(client, charlie, product, sales):
    root, _ = tree_of(product, sales, count=8)
    client.force_login(charlie)
    html = client.get(product.get_absolute_url()).content.decode()
    assert html.count("data-kpi-now") == 8
    assert reverse("kpis:tree", args=[product.slug]) in html
    assert f'href="{reverse("kpis:detail", args=[product.slug, root.pk])}">Revenue' in html
    assert "+50 EUR (+25 %)" in html


def test_the_kpi_values_add_three_queries_to_the_product_page_whatever_the_kpis(
    client, charlie, product, sales, monkeypatch
):
    tree_of(product, sales, count=8)
    client.force_login(charlie)
    url = product.get_absolute_url()
    with_values = queries_of(client, url)
    monkeypatch.setattr(panels, "KPI_DECORATORS", [])
    assert with_values - queries_of(client, url) == 3
    assert with_values <= 45  # the demo's 8 KPIs: about 40 for the rest of the page


def test_a_kpi_page_takes_bounded_queries(client, charlie, kpi, django_assert_max_num_queries):
    client.force_login(charlie)
    with django_assert_max_num_queries(30):
        assert client.get(detail_url(kpi, dimension="region")).status_code == 200


# --- The metric registry ----------------------------------------------------------------------


def registry(client, user, **query) -> str:
    return page(client, user, reverse("catalog:metrics") + ("?" + "&".join(f"{k}={v}" for k, v in query.items())))


def test_the_registry_lists_only_visible_kpis(client, charlie, kpi, draft):
    hidden = factories.KPIFactory(product=draft, name="Secret churn")
    html = registry(client, charlie)
    assert f'id="metric-{kpi.pk}"' in html
    assert f'id="metric-{hidden.pk}"' not in html
    assert "250 EUR" in html
    assert "amount, day, region" in html  # column, time column and dimensions


def test_the_registry_names_the_filters_columns_and_marks_deprecated_kpis(client, alice, product, sales):
    factories.KPIFactory(product=product, name="Old", status=KPIStatus.DEPRECATED)
    sales_kpi(sales, name="Big North", filter="region = 'North' AND amount > 10")
    html = registry(client, alice)
    assert "filter on amount, region" in html
    assert "metric metric--deprecated" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "revenue"}, {"Daily revenue"}),
        ({"level": "l3"}, {"Diagnostics"}),
        ({"status": "deprecated"}, {"Old"}),
        ({"indicator": "leading"}, {"Diagnostics"}),
        ({"owner": "alice"}, {"Old"}),
        ({"product": "churn"}, {"Churn rate"}),
        ({"domain": "elsewhere"}, set()),
    ],
)
def test_the_registry_filters(client, alice, kpi, product, draft, query, expected):
    factories.KPIFactory(product=product, name="Diagnostics", level=KPILevel.L3, indicator_type="leading")
    factories.KPIFactory(product=product, name="Old", status=KPIStatus.DEPRECATED, owner=alice)
    factories.KPIFactory(product=draft, name="Churn rate")
    html = registry(client, alice, **query)
    names = {"Daily revenue", "Diagnostics", "Old", "Churn rate"}
    assert {name for name in names if f">{name}</a>" in html} == expected


def test_the_registry_is_paginated_with_bounded_queries(client, charlie, product, django_assert_max_num_queries):
    for index in range(25):
        factories.KPIFactory(product=product, name=f"Metric {index:02}")
    client.force_login(charlie)
    with django_assert_max_num_queries(15):
        html = client.get(reverse("catalog:metrics")).content.decode()
    assert html.count("data-metric>") == 20
    assert "Page 1 of 2" in html
    second = client.get(reverse("catalog:metrics") + "?page=2").content.decode()
    assert second.count("data-metric>") == 5


def test_the_top_bar_links_to_the_registry(client, charlie):
    assert f'href="{reverse("catalog:metrics")}"' in page(client, charlie, reverse("catalog:home"))


# --- The steward's KPI form -------------------------------------------------------------------


def kpi_form(product, user, instance=None, **data):
    fields = {
        "name": "Daily revenue",
        "level": "l1",
        "direction": "up",
        "indicator_type": "lagging",
        "schedule": "15 * * * *",
        "status": "active",
        "baseline_periods": 8,
        "baseline_k": 3,
        **data,
    }
    return KPIForm(fields, instance=instance, user=user, product=product)


def test_the_form_takes_dimensions_as_text_and_counter_metrics_of_the_product(product, sales, bob, draft):
    other = factories.KPIFactory(product=product, name="Costs")
    elsewhere = factories.KPIFactory(product=draft, name="Churn")
    form = kpi_form(
        product, bob, output=sales.pk, aggregation="sum", column="amount", time_column="day",
        dimensions="region, region", counter_metrics=[other.pk], alert_rule="static", alert_min="10",
    )  # fmt: skip
    assert form.is_valid(), form.errors
    form.instance.product = product
    kpi = form.save()
    assert kpi.dimensions == ["region"]
    assert list(kpi.counter_metrics.all()) == [other]
    assert elsewhere not in form.fields["counter_metrics"].queryset
    series_group = form.field_groups()[-1]
    assert series_group.title == "Series and alerts" and series_group.open


def test_the_form_names_the_field_of_bad_input(product, sales, bob):
    form = kpi_form(
        product, bob, output=sales.pk, aggregation="sum", column="amount", time_column="day",
        dimensions="nowhere", schedule="every day", baseline_k="0",
    )  # fmt: skip
    form.instance.product = product
    assert not form.is_valid()
    assert {"schedule", "baseline_k"} <= set(form.errors)
    good = kpi_form(
        product, bob, output=sales.pk, aggregation="sum", column="amount", time_column="day", dimensions="nowhere"
    )
    good.instance.product = product
    assert not good.is_valid()
    assert "dimensions" in good.errors


def test_the_series_group_stays_folded_at_its_defaults(product, bob):
    form = KPIForm(user=bob, product=product)
    group = form.field_groups()[-1]
    assert group.title == "Series and alerts" and not group.open
    assert "dimensions" not in [field.name for field in form.field_groups()[0].fields]


@pytest.mark.parametrize("aggregation", [Aggregation.SUM, Aggregation.AVG, Aggregation.COUNT])
def test_the_pages_cards_are_the_cards_of_quality_series(sales, charlie, aggregation, data_root, today):
    """cards_for stands in for a batch of series.card: it must give the same card."""
    kpi = computed(sales_kpi(sales, aggregation=aggregation, column="" if aggregation == "count" else "amount"))
    uncomputed = sales_kpi(sales, name="Later")
    made = cards_for([kpi, uncomputed])
    for one in (kpi, uncomputed):
        expected = series.card(one, charlie, start=spark_start(one))
        got = made[one.pk]
        assert vars(got) | {"trend": None} == vars(expected) | {"trend": None}
        assert got.trend.values == expected.trend.values


def test_a_kpi_run_row_is_kept_per_computation(kpi):
    assert KPIRun.objects.filter(kpi=kpi).count() == 1
