"""Known-answer KPI series: the engine's values on eight hand-made events, on every backend it reads.

The KPI time zone is Europe/Berlin (UTC+1 in winter), so three events cross a boundary there:

    #  user  UTC time              Berlin day   amount  region  kind
    1  u1    2024-01-01 09:00      Mon  1 Jan     10.0  North   buy
    2  u2    2024-01-01 23:30      Tue  2 Jan     20.0  South   buy    (UTC: 1 Jan)
    3  u1    2024-01-02 10:00      Tue  2 Jan      5.0  North   view
    4  u3    2024-01-07 22:59      Sun  7 Jan      7.0  North   buy
    5  u3    2024-01-07 23:30      Mon  8 Jan      3.0  (none)  buy    (UTC: Sunday, the week before)
    6  u2    2024-01-31 23:30      Thu  1 Feb     40.0  South   buy    (UTC: January)
    7  u4    2024-02-15 12:00      Thu 15 Feb     None  North   buy
    8  u1    2024-03-04 08:00      Mon  4 Mar    100.0  North   buy

Distinct users: days 1 Jan 1, 2 Jan 2, 7 Jan 1, 8 Jan 1, 1 Feb 1, 15 Feb 1, 4 Mar 1; the week of 1 Jan
has 3 (u1, u2, u3), not the 4 its days add up to; January 3, February 2, March 1.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pytest

from quality import kpis, series
from quality.models import KPIPoint, KPIRun
from tests import factories
from tests.quality.kpi_data import BACKENDS, BERLIN, LATER, frame, make_kpi, write_output


@pytest.fixture(params=BACKENDS)
def events(request, product, data_root, settings):
    settings.LODESTAR_KPI_TIME_ZONE = BERLIN
    return write_output(request.param, product, data_root, request)


@pytest.fixture
def parquet_events(product, data_root, settings, request):
    settings.LODESTAR_KPI_TIME_ZONE = BERLIN
    return write_output("parquet", product, data_root, request)


def values(points: list[kpis.Point], grain: str, dimension: str = "", member: str = "") -> dict[str, float | None]:
    found = [p for p in points if p.grain == grain and p.dimension == dimension and p.member == member]
    return {p.period_start.isoformat(): p.value for p in sorted(found, key=lambda p: p.period_start)}


# --- Every backend ---------------------------------------------------------------------------


def test_distinct_users_are_counted_per_window_never_summed(events):
    points = kpis.compute_points(make_kpi(events), now=LATER)
    assert values(points, "day") == {
        "2024-01-01": 1,
        "2024-01-02": 2,
        "2024-01-07": 1,
        "2024-01-08": 1,
        "2024-02-01": 1,
        "2024-02-15": 1,
        "2024-03-04": 1,
    }
    # The week of 1 January holds u1, u2 and u3: three, where its days add up to four.
    assert values(points, "week") == {
        "2024-01-01": 3,
        "2024-01-08": 1,
        "2024-01-29": 1,
        "2024-02-12": 1,
        "2024-03-04": 1,
    }
    assert values(points, "month") == {"2024-01-01": 3, "2024-02-01": 2, "2024-03-01": 1}
    assert not any(point.partial for point in points)


def test_sums_averages_counts_and_ratios(events):
    total = kpis.compute_points(make_kpi(events, aggregation="sum", column="amount", grain="month"), now=LATER)
    assert values(total, "month") == {"2024-01-01": 45.0, "2024-02-01": 40.0, "2024-03-01": 100.0}
    # 15 February's only amount is empty: a sum of nothing is 0, an average of nothing is no value.
    assert values(total, "day")["2024-02-15"] == 0.0
    average = kpis.compute_points(make_kpi(events, aggregation="avg", column="amount"), now=LATER)
    assert values(average, "month") == {"2024-01-01": 9.0, "2024-02-01": 40.0, "2024-03-01": 100.0}
    assert values(average, "day")["2024-02-15"] is None
    rows = kpis.compute_points(make_kpi(events, aggregation="count", column=""), now=LATER)
    assert values(rows, "month") == {"2024-01-01": 5, "2024-02-01": 2, "2024-03-01": 1}
    ratio = kpis.compute_points(
        make_kpi(
            events,
            aggregation="ratio",
            column="amount",
            denominator_aggregation="count_distinct",
            denominator_column="user_id",
        ),
        now=LATER,
    )
    assert values(ratio, "month") == {"2024-01-01": 15.0, "2024-02-01": 20.0, "2024-03-01": 100.0}
    extremes = kpis.compute_points(make_kpi(events, aggregation="max", column="amount"), now=LATER)
    assert values(extremes, "week")["2024-01-01"] == 20.0


def test_the_filter_and_the_breakdown(events):
    kpi = make_kpi(events, aggregation="sum", column="amount", filter="kind = 'buy'", dimensions=["region"])
    points = kpis.compute_points(kpi, now=LATER)
    # January's buys: 10 + 20 + 7 + 3; the view of 5 is filtered out.
    assert values(points, "month")["2024-01-01"] == 40.0
    assert values(points, "month", "region", "North") == {"2024-01-01": 17.0, "2024-02-01": 0.0, "2024-03-01": 100.0}
    assert values(points, "month", "region", "South") == {"2024-01-01": 20.0, "2024-02-01": 40.0}
    assert values(points, "month", "region", "") == {"2024-01-01": 3.0}  # the event without a region


# --- Periods ---------------------------------------------------------------------------------


def test_periods_are_cut_in_the_kpi_time_zone(parquet_events, settings):
    kpi = make_kpi(parquet_events)
    berlin = kpis.compute_points(kpi, now=LATER)
    settings.LODESTAR_KPI_TIME_ZONE = "UTC"
    utc = kpis.compute_points(kpi, now=LATER)
    assert values(berlin, "day")["2024-01-01"] == 1 and values(utc, "day")["2024-01-01"] == 2
    assert values(berlin, "month") == {"2024-01-01": 3, "2024-02-01": 2, "2024-03-01": 1}
    assert values(utc, "month") == {"2024-01-01": 3, "2024-02-01": 1, "2024-03-01": 1}
    # Event 5 is Monday 8 January in Berlin, still Sunday in UTC: the week before.
    assert values(utc, "week")["2024-01-01"] == 3 and "2024-01-08" not in values(utc, "week")


def test_a_date_column_is_a_calendar_day_in_any_time_zone(product, data_root, settings):
    settings.LODESTAR_KPI_TIME_ZONE = "America/Los_Angeles"
    pd.DataFrame({"day": [date(2024, 1, 1), date(2024, 1, 1), date(2024, 1, 2)], "n": [1, 2, 3]}).to_parquet(
        data_root / "days.parquet"
    )
    output = factories.OutputFactory(product=product, name="days", format="parquet", path="days.parquet")
    factories.OutputColumnFactory(output=output, name="day", data_type="date", role="time", order=0)
    factories.OutputColumnFactory(output=output, name="n", data_type="integer", role="measure", order=1)
    kpi = make_kpi(output, aggregation="sum", column="n", time_column="day")
    assert values(kpis.compute_points(kpi, now=LATER), "day") == {"2024-01-01": 3.0, "2024-01-02": 3.0}


def test_the_period_in_progress_is_marked_partial(parquet_events):
    now = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)  # Monday 4 March, afternoon in Berlin
    points = kpis.compute_points(make_kpi(parquet_events), now=now)
    partial = {(p.grain, p.period_start.isoformat()) for p in points if p.partial}
    assert partial == {("day", "2024-03-04"), ("week", "2024-03-04"), ("month", "2024-03-01")}


def test_a_partial_last_day_just_before_midnight_in_berlin(parquet_events):
    # 22:59 UTC on 4 March is 23:59 in Berlin: still the 4th; a minute later it is the 5th and the 4th is whole.
    before = kpis.compute_points(make_kpi(parquet_events), now=datetime(2024, 3, 4, 22, 59, tzinfo=UTC))
    after = kpis.compute_points(make_kpi(parquet_events), now=datetime(2024, 3, 4, 23, 0, tzinfo=UTC))
    day = lambda points: next(p for p in points if p.grain == "day" and p.period_start == date(2024, 3, 4))  # noqa: E731
    assert day(before).partial and not day(after).partial


def test_empty_periods_are_zero_for_counts_and_no_value_for_averages(parquet_events, alice):
    distinct = make_kpi(parquet_events)
    average = make_kpi(parquet_events, aggregation="avg", column="amount")
    for kpi in (distinct, average):
        assert kpis.compute(kpi).status == "ok"
    january = dict(start=date(2024, 1, 1), end=date(2024, 1, 10))
    (users,) = series.read(distinct, alice, grain="day", **january)
    (amounts,) = series.read(average, alice, grain="day", **january)
    assert [value.value for value in users.values] == [1, 2, 0, 0, 0, 0, 1, 1, 0, 0]
    assert [value.value for value in amounts.values] == [10, 12.5, None, None, None, None, 7, 3, None, None]


# --- Storing ---------------------------------------------------------------------------------


def test_a_run_stores_every_grain_and_a_second_run_replaces_them(parquet_events):
    kpi = make_kpi(parquet_events, dimensions=["region"])
    first = kpis.compute(kpi, trigger="request")
    assert first.status == "ok" and first.points == KPIPoint.objects.filter(kpi=kpi).count() > 0
    assert set(KPIPoint.objects.filter(kpi=kpi).values_list("grain", flat=True)) == {"day", "week", "month"}
    second = kpis.compute(kpi)
    assert second.points == first.points == KPIPoint.objects.filter(kpi=kpi).count()


def test_history_older_than_the_data_is_kept(parquet_events, data_root):
    kpi = make_kpi(parquet_events)
    kpis.compute(kpi)
    # The log now keeps only March: January and February stay as they were computed.
    frame()[lambda rows: rows.ts >= "2024-03-01"].to_parquet(data_root / "events.parquet")
    kpis.compute(kpi)
    months = dict(KPIPoint.objects.filter(kpi=kpi, grain="month", dimension="").values_list("period_start", "value"))
    assert months == {date(2024, 1, 1): 3, date(2024, 2, 1): 2, date(2024, 3, 1): 1}


def test_a_dimension_dropped_from_the_kpi_loses_its_points(parquet_events):
    kpi = make_kpi(parquet_events, dimensions=["region", "kind"])
    kpis.compute(kpi)
    kpi.dimensions = ["kind"]
    kpi.save()
    kpis.compute(kpi)
    assert set(KPIPoint.objects.filter(kpi=kpi).values_list("dimension", flat=True)) == {"", "kind"}


def test_a_grain_coarser_than_a_month_is_stored_too(parquet_events):
    points = kpis.compute_points(make_kpi(parquet_events, grain="quarter"), now=LATER)
    assert values(points, "quarter") == {"2024-01-01": 4}


# --- Errors ----------------------------------------------------------------------------------


def test_a_missing_file_is_an_error_run_that_changes_no_points(parquet_events, data_root):
    kpi = make_kpi(parquet_events)
    kpis.compute(kpi)
    stored = KPIPoint.objects.filter(kpi=kpi).count()
    (data_root / "events.parquet").unlink()
    run = kpis.compute(kpi)
    assert run.status == "error" and "does not exist" in run.error
    assert KPIPoint.objects.filter(kpi=kpi).count() == stored


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"time_column": ""}, "no time column"),
        ({"aggregation": ""}, "no calculation"),
    ],
)
def test_a_kpi_without_a_calculation_is_an_error_run(parquet_events, fields, message):
    kpi = make_kpi(parquet_events, **fields)
    run = kpis.compute(kpi)
    assert run.status == "error" and message in run.error
    assert KPIRun.objects.get(pk=run.pk).finished_at is not None


def test_a_column_gone_from_the_data_is_an_error_run(parquet_events, data_root):
    kpi = make_kpi(parquet_events, aggregation="sum", column="amount")
    frame().drop(columns=["amount"]).to_parquet(data_root / "events.parquet")
    run = kpis.compute(kpi)
    assert run.status == "error" and "amount" in run.error


def test_a_filter_value_is_bound_never_pasted_into_the_sql(parquet_events):
    kpi = make_kpi(parquet_events, aggregation="count", column="", filter="kind = 'x''; DROP TABLE events; --'")
    points = kpis.compute_points(kpi, now=LATER)
    assert points == []  # no row has that kind; the query ran and the file is intact
    assert kpis.compute_points(make_kpi(parquet_events, aggregation="count", column=""), now=LATER)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"filter": "kind = "}, "filter", "expected a value"),
        ({"filter": "colour = 'red'"}, "filter", "does not have"),
        ({"dimensions": ["colour"]}, "dimensions", "no column 'colour'"),
        ({"dimensions": "region"}, "dimensions", "list of column names"),
        ({"dimensions": ["region", "region"]}, "dimensions", "twice"),
        ({"dimensions": ["user_id"]}, "dimensions", "personal data"),
        ({"schedule": "every hour"}, "schedule", "5 fields"),
        ({"alert_rule": "static"}, "alert_min", "lower bound"),
        ({"alert_rule": "static", "alert_min": 5, "alert_max": 1}, "alert_max", "below the lower"),
    ],
)
def test_bad_kpi_settings_are_refused_naming_the_field(parquet_events, fields, field, message):
    from django.core.exceptions import ValidationError

    parquet_events.columns.filter(name="user_id").update(classification="pii")
    kpi = factories.KPIFactory.build(
        product=parquet_events.product, output=parquet_events, aggregation="count", time_column="ts", **fields
    )
    with pytest.raises(ValidationError) as caught:
        kpi.full_clean()
    assert field in caught.value.message_dict
    assert message in " ".join(caught.value.message_dict[field])
