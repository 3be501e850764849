"""Reading KPI series for people: breakdown rights, windows, cards, and the series API with its bad input.

The events are those of ``kpi_data`` (Berlin time): January's revenue by region is North 22, South 20
and 3 without a region; its distinct users are 3.
"""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth.models import Group

from products.models import RowFilter
from quality import kpis, series
from tests import factories
from tests.quality.kpi_data import make_kpi

JANUARY = {"start": date(2024, 1, 1), "end": date(2024, 1, 31)}


@pytest.fixture
def revenue(events):
    kpi = make_kpi(events, aggregation="sum", column="amount", grain="month", dimensions=["region", "kind"])
    assert kpis.compute(kpi).status == "ok"
    return kpi


@pytest.fixture
def users(events):
    kpi = make_kpi(events, grain="month", dimensions=["region"])
    assert kpis.compute(kpi).status == "ok"
    return kpi


@pytest.fixture
def north_reader(events, charlie):
    """charlie may see the product and is row-filtered to the North region of its events."""
    group = Group.objects.create(name="North readers")
    charlie.groups.add(group)
    RowFilter.objects.create(output=events, group=group, column="region", values=["North"])
    return charlie


@pytest.fixture
def outsider_reader(db):
    return factories.UserFactory(username="dana")


def members(found) -> dict[str, float | None]:
    return {each.member: each.values[0].value for each in found}


# --- Breakdown rights ------------------------------------------------------------------------


def test_a_reader_sees_every_member_of_an_unfiltered_output(revenue, charlie):
    found = series.read(revenue, charlie, grain="month", dimension="region", **JANUARY)
    assert members(found) == {"": 3.0, "North": 22.0, "South": 20.0}


def test_a_row_filtered_reader_sees_only_their_members(revenue, north_reader):
    assert members(series.read(revenue, north_reader, grain="month", dimension="region", **JANUARY)) == {"North": 22.0}
    assert series.members_of(revenue, north_reader, "region") == ["North"]


def test_a_row_filter_on_another_column_leaves_a_breakdown_whole(revenue, north_reader):
    found = series.read(revenue, north_reader, grain="month", dimension="kind", **JANUARY)
    assert members(found) == {"buy": 40.0, "view": 5.0}


def test_the_total_is_an_aggregate_every_viewer_sees(revenue, north_reader):
    (total,) = series.read(revenue, north_reader, grain="month", **JANUARY)
    assert total.values[0].value == 45.0


def test_a_reader_no_rule_names_sees_no_member_of_a_filtered_dimension(revenue, events, outsider_reader):
    RowFilter.objects.create(output=events, user=factories.UserFactory(), column="region", values=["South"])
    assert series.read(revenue, outsider_reader, grain="month", dimension="region", **JANUARY) == []


def test_the_owner_and_stewards_see_every_member(revenue, north_reader, alice, bob):
    for person in (alice, bob):
        assert set(members(series.read(revenue, person, grain="month", dimension="region", **JANUARY))) == {
            "",
            "North",
            "South",
        }


def test_choosing_a_member_the_reader_may_not_see_gives_nothing(revenue, north_reader):
    assert series.read(revenue, north_reader, grain="month", dimension="region", members=["South"], **JANUARY) == []


# --- Windows ---------------------------------------------------------------------------------


def test_a_window_of_sums_is_rolled_up_from_the_days(revenue, charlie):
    assert series.window_value(revenue, charlie, date(2024, 1, 1), date(2024, 1, 8)) == 45.0
    assert series.window_value(revenue, charlie, date(2024, 1, 2), date(2024, 1, 7)) == 32.0
    assert series.window_value(revenue, charlie, date(2024, 1, 1), date(2024, 2, 29), "region", ["South"]) == 60.0


def test_a_window_of_distinct_users_is_counted_where_the_data_lives(users, charlie):
    # 1–8 January: u1, u2, u3 — three, where the days add up to five.
    assert series.window_value(users, charlie, date(2024, 1, 1), date(2024, 1, 8)) == 3
    assert series.window_value(users, charlie, date(2024, 1, 1), date(2024, 3, 31), "region", ["North"]) == 3


def test_a_window_of_a_filtered_dimension_is_cut_to_the_readers_members(users, north_reader):
    # Asking for South as a North reader counts no one; asking for nothing counts the North only.
    assert series.window_value(users, north_reader, date(2024, 1, 1), date(2024, 3, 31), "region", ["South"]) == 0
    assert series.window_value(users, north_reader, date(2024, 1, 1), date(2024, 3, 31), "region") == 3


def test_an_average_over_a_window_weighs_every_row(events, charlie):
    kpi = make_kpi(events, aggregation="avg", column="amount")
    kpis.compute(kpi)
    # 10, 20, 5 over 1–2 January: 35 / 3, not the mean of the two daily means (10 and 12.5).
    assert series.window_value(kpi, charlie, date(2024, 1, 1), date(2024, 1, 2)) == pytest.approx(35 / 3)


# --- Cards -----------------------------------------------------------------------------------


def test_the_card_compares_the_latest_complete_period_with_the_one_before(revenue, charlie):
    revenue.target = 50
    card = series.card(revenue, charlie, start=date(2024, 1, 1), end=date(2024, 3, 31))
    assert (card.period, card.value, card.previous_period, card.previous) == (
        date(2024, 3, 1),
        100.0,
        date(2024, 2, 1),
        40.0,
    )
    assert card.change == 60.0 and card.change_percent == 150.0 and card.tone == "good"
    assert card.attainment == 2.0 and card.status == "on_target"


def test_lower_is_better_turns_the_tone_and_the_attainment(revenue, charlie):
    revenue.direction, revenue.target = "down", 80
    card = series.card(revenue, charlie, start=date(2024, 1, 1), end=date(2024, 3, 31))
    assert card.tone == "bad" and card.attainment == 0.8 and card.status == "off"


def test_a_card_before_any_computation_has_no_value(events, charlie):
    kpi = make_kpi(events)
    card = series.card(kpi, charlie)
    assert card.value is None and card.last_run is None and card.status == "unknown"


def test_periods_before_the_data_begins_have_no_value_rather_than_zero(revenue, charlie):
    (total,) = series.read(revenue, charlie, grain="month", start=date(2023, 11, 1), end=date(2024, 4, 30))
    assert [value.value for value in total.values] == [None, None, 45.0, 40.0, 100.0, 0.0]


def test_one_page_reads_a_readers_rights_once(revenue, north_reader):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as once:
        assert series.allowed_members(north_reader, revenue, "region") == {"North"}
    with series.remembered_rights(), CaptureQueriesContext(connection) as twice:
        for _ in range(2):
            assert series.allowed_members(north_reader, revenue, "region") == {"North"}
    assert len(twice) == len(once) > 0
    # Outside the block nothing is remembered: a rule changed since is seen at once.
    RowFilter.objects.filter(output=revenue.output).update(values=["South"])
    assert series.allowed_members(north_reader, revenue, "region") == {"South"}
