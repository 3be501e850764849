"""The KPI series API and computing on request, with their bad input, and the KPI tasks run for real."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group

from products.models import RowFilter
from quality import kpi_tasks, kpis
from quality.models import KPIPoint, KPIRun
from tests import factories
from tests.quality.kpi_data import BERLIN, make_kpi, write_output


@pytest.fixture
def revenue(events):
    kpi = make_kpi(events, aggregation="sum", column="amount", grain="month", dimensions=["region"])
    kpis.compute(kpi)
    return kpi


def series_url(kpi, **params) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"/api/v1/kpis/{kpi.pk}/series/" + (f"?{query}" if query else "")


# --- GET series ------------------------------------------------------------------------------


def test_the_series_of_a_range_at_a_grain(api, charlie, revenue):
    response = api(charlie).get(series_url(revenue, **{"from": "2024-01-01", "to": "2024-03-31"}))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["grain"], body["from"], body["to"], body["time_zone"]) == ("month", "2024-01-01", "2024-03-31", BERLIN)
    [total] = body["series"]
    assert [(v["period_start"], v["value"]) for v in total["values"]] == [
        ("2024-01-01", 45.0),
        ("2024-02-01", 40.0),
        ("2024-03-01", 100.0),
    ]
    assert body["last_run"]["status"] == "ok"


def test_a_breakdown_by_day_with_empty_days_filled(api, charlie, revenue):
    params = {"from": "2024-01-01", "to": "2024-01-03", "grain": "day", "dimension": "region", "member": "North"}
    body = api(charlie).get(series_url(revenue, **params)).json()
    [north] = body["series"]
    assert north["member"] == "North"
    assert [v["value"] for v in north["values"]] == [10.0, 5.0, 0.0]


def test_a_row_filtered_reader_gets_only_their_members(api, charlie, revenue, events):
    group = Group.objects.create(name="South readers")
    charlie.groups.add(group)
    RowFilter.objects.create(output=events, group=group, column="region", values=["South"])
    body = api(charlie).get(series_url(revenue, **{"from": "2024-01-01", "to": "2024-01-31", "dimension": "region"}))
    assert [each["member"] for each in body.json()["series"]] == ["South"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2024-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"grain": "fortnight"}, "grain"),
        ({"dimension": "colour"}, "dimension"),
        ({"from": "2024-03-01", "to": "2024-01-01"}, "from"),
        ({"from": "2000-01-01", "to": "2024-01-01"}, "to"),
        ({"member": "North"}, "member"),
    ],
)
def test_bad_query_parameters_are_refused_naming_them(api, charlie, revenue, params, field):
    response = api(charlie).get(series_url(revenue, **params))
    assert response.status_code == 400
    assert field in response.json()


def test_a_kpi_of_a_product_one_may_not_see_is_not_found(api, charlie, draft, data_root, request, settings):
    settings.LODESTAR_KPI_TIME_ZONE = BERLIN
    hidden = make_kpi(write_output("parquet", draft, data_root, request))
    assert api(charlie).get(series_url(hidden)).status_code == 404
    assert api(None).get(series_url(hidden)).status_code == 401


# --- POST compute ----------------------------------------------------------------------------


def test_a_steward_queues_a_computation(api, bob, revenue):
    response = api(bob).post(f"/api/v1/kpis/{revenue.pk}/compute/")
    assert response.status_code == 202, response.json()
    assert response.json()["kpi"] == revenue.pk


def test_a_viewer_may_not_compute(api, charlie, revenue):
    assert api(charlie).post(f"/api/v1/kpis/{revenue.pk}/compute/").status_code == 403


def test_a_kpi_without_a_calculation_or_deprecated_is_not_computed(api, bob, revenue, product):
    bare = factories.KPIFactory(product=product)
    assert list(api(bob).post(f"/api/v1/kpis/{bare.pk}/compute/").json()) == ["kpi"]
    revenue.status = "deprecated"
    revenue.save()
    assert list(api(bob).post(f"/api/v1/kpis/{revenue.pk}/compute/").json()) == ["status"]


# --- Tasks -----------------------------------------------------------------------------------


def test_the_task_computes_the_kpis_it_is_given(revenue, bob):
    KPIPoint.objects.filter(kpi=revenue).delete()
    assert kpi_tasks.compute_kpis([revenue.pk], trigger="request", user_id=bob.pk) == {"ok": 1}
    run = KPIRun.objects.filter(kpi=revenue).first()
    assert (run.trigger, run.requested_by) == ("request", bob)
    assert KPIPoint.objects.filter(kpi=revenue).exists()


def test_deprecated_kpis_are_neither_due_nor_computed(revenue):
    revenue.status = "deprecated"
    revenue.save()
    assert kpi_tasks.compute_kpis([revenue.pk]) == {}
    assert kpi_tasks.due_kpis(datetime(2024, 1, 1, 0, 20, tzinfo=UTC)) == {}


def test_due_kpis_follow_their_cron(revenue, events):
    hourly = revenue  # the default schedule: minute 20 of every hour
    nightly = make_kpi(events, schedule="5 2 * * *")
    assert kpi_tasks.due_kpis(datetime(2024, 1, 1, 3, 20, tzinfo=UTC)) == {events.pk: [hourly.pk]}
    assert kpi_tasks.due_kpis(datetime(2024, 1, 1, 2, 5, tzinfo=UTC)) == {events.pk: [nightly.pk]}
    assert kpi_tasks.due_kpis(datetime(2024, 1, 1, 2, 6, tzinfo=UTC)) == {}


def test_a_changed_calculation_drops_the_old_points_and_computes_again(revenue, django_capture_on_commit_callbacks):
    assert KPIPoint.objects.filter(kpi=revenue).exists()
    with django_capture_on_commit_callbacks() as queued:
        revenue.filter = "kind = 'buy'"
        revenue.save()
    assert not KPIPoint.objects.filter(kpi=revenue).exists()
    assert len(queued) == 1
    with django_capture_on_commit_callbacks() as queued:
        revenue.unit = "USD"  # not part of the calculation
        revenue.save()
    assert not queued
