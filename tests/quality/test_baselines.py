"""Baselines: comparable history, the median ± k·MAD band and the verdict, by hand and by property."""

import statistics
from datetime import date, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from quality.baselines import MAD_SCALE, Band, band, comparable_history, verdict

MONDAY = date(2026, 11, 2)


def daily(values_by_weekday: dict[int, float], weeks: int, start: date = MONDAY) -> list[tuple[date, float]]:
    """``weeks`` weeks of days from ``start``, each day's value by its weekday (default 20)."""
    days = [start + timedelta(days=offset) for offset in range(weeks * 7)]
    return [(day, values_by_weekday.get(day.weekday(), 20.0)) for day in days]


# --- Known answers ----------------------------------------------------------------------------


def test_band_of_a_history_with_one_outlier_by_hand():
    result = band([10, 12, 11, 13, 50], k=3)
    # sorted 10 11 12 13 50 → median 12; deviations 2 0 1 1 38 → sorted 0 1 1 2 38 → MAD 1
    assert result == Band(median=12, mad=MAD_SCALE, low=12 - 3 * MAD_SCALE, high=12 + 3 * MAD_SCALE, k=3, n=5)


def test_band_of_an_even_history_takes_the_middle_pair():
    result = band([1, 2, 3, 4], k=2)
    # median 2.5; deviations 1.5 0.5 0.5 1.5 → MAD 1
    assert (result.median, result.mad) == (2.5, pytest.approx(MAD_SCALE))
    assert (result.low, result.high) == (pytest.approx(2.5 - 2 * MAD_SCALE), pytest.approx(2.5 + 2 * MAD_SCALE))


def test_verdict_is_ok_inside_and_on_the_bounds_and_a_breach_outside():
    known = band([10, 12, 11, 13, 50], k=3)  # 7.5522 … 16.4478
    assert [verdict(value, known) for value in (12, known.low, known.high, 7.5, 16.5, 50)] == [
        "ok", "ok", "ok", "breach", "breach", "breach",
    ]  # fmt: skip


def test_fewer_than_three_values_give_no_band_and_an_unknown_verdict():
    assert band([], 3) is None
    assert band([5, 6], 3) is None
    assert verdict(100, None) == "unknown"
    assert verdict(None, band([1, 2, 3], 3)) == "unknown"


def test_a_flat_history_alerts_on_a_real_move_but_not_on_float_noise():
    flat = band([100.0] * 8, k=3)
    assert flat.mad == pytest.approx(1.0)  # 1 % of the median
    assert verdict(100.0 + 1e-9, flat) == "ok"
    assert verdict(97.5, flat) == "ok"
    assert verdict(96.0, flat) == "breach"
    zeros = band([0.0] * 5, k=3)
    assert zeros.mad == 1e-9
    assert (verdict(1e-12, zeros), verdict(0.01, zeros)) == ("ok", "breach")


# --- Comparable history -----------------------------------------------------------------------


def test_days_are_compared_with_the_same_weekday_of_earlier_weeks_most_recent_first():
    points = [(MONDAY + timedelta(days=offset), float(offset)) for offset in range(35)]
    period = MONDAY + timedelta(days=30)  # a Wednesday
    assert comparable_history(points, period, "day", 3) == [23.0, 16.0, 9.0]
    assert comparable_history(points, period, "day", 8) == [23.0, 16.0, 9.0, 2.0]


def test_other_grains_use_their_previous_periods():
    months = [(date(2026, month, 1), float(month)) for month in range(1, 11)]
    assert comparable_history(months, date(2026, 10, 1), "month", 3) == [9.0, 8.0, 7.0]
    weeks = [(MONDAY - timedelta(weeks=back), float(back)) for back in range(6)]
    assert comparable_history(weeks, MONDAY, "week", 4) == [1.0, 2.0, 3.0, 4.0]
    quarters = [(date(2025, 10, 1), 4.0), (date(2026, 1, 1), 1.0), (date(2026, 4, 1), 2.0)]
    assert comparable_history(quarters, date(2026, 7, 1), "quarter", 5) == [2.0, 1.0, 4.0]


def test_gaps_and_empty_values_are_skipped_but_the_search_stops_at_twice_the_count():
    months = {date(2026, month, 1): float(month) for month in range(1, 11)}
    months[date(2026, 9, 1)] = None
    del months[date(2026, 8, 1)]
    points = list(months.items())
    assert comparable_history(points, date(2026, 10, 1), "month", 3) == [7.0, 6.0, 5.0]
    # Looking at most 4 months back (Sep … Jun) finds only July and June.
    assert comparable_history(points, date(2026, 10, 1), "month", 2) == [7.0, 6.0]
    sparse = [(date(2026, 1, 1), 1.0), (date(2026, 10, 1), 10.0)]
    assert comparable_history(sparse, date(2026, 10, 1), "month", 3) == []


def test_the_period_itself_and_later_periods_are_not_history():
    points = [(MONDAY + timedelta(weeks=week), 10.0 * week) for week in range(6)]
    assert comparable_history(points, MONDAY + timedelta(weeks=3), "day", 8) == [20.0, 10.0, 0.0]


# --- Weekly seasonality -----------------------------------------------------------------------


def test_a_monday_spike_is_no_breach_but_a_tuesday_at_monday_level_is():
    # Ten weeks: Mondays about 100, other days about 20, with a little noise.
    points = [(day, value + (day.toordinal() % 3)) for day, value in daily({0: 100.0}, weeks=10)]
    values = dict(points)
    monday, tuesday = MONDAY + timedelta(weeks=10), MONDAY + timedelta(weeks=10, days=1)
    monday_band = band(comparable_history(points, monday, "day", 8), k=3)
    tuesday_band = band(comparable_history(points, tuesday, "day", 8), k=3)
    assert verdict(values[MONDAY + timedelta(weeks=9)], monday_band) == "ok"
    assert verdict(101.0, monday_band) == "ok"
    assert verdict(101.0, tuesday_band) == "breach"
    assert verdict(21.0, tuesday_band) == "ok"
    assert verdict(21.0, monday_band) == "breach"


# --- Properties -------------------------------------------------------------------------------


def raw_mad(history: list[int]) -> float:
    middle = statistics.median(history)
    return statistics.median(abs(value - middle) for value in history)


histories = st.lists(st.integers(min_value=-10_000, max_value=10_000), min_size=3, max_size=30)
ks = st.sampled_from([0.5, 1.0, 2.0, 3.0, 4.5, 10.0])


@given(histories, ks)
def test_the_band_contains_its_median(history, k):
    result = band([float(value) for value in history], k)
    assert result.low <= result.median <= result.high
    assert result.mad > 0 and result.n == len(history)


@given(histories, ks, st.sampled_from([0.001, 0.5, 2.0, 7.0, 1000.0]))
def test_scaling_the_history_scales_the_band(history, k, c):
    values = [float(value) for value in history]
    original, scaled = band(values, k), band([value * c for value in values], k)
    assume(raw_mad(history) > 0)  # a flat history's floor is checked by hand above
    assert scaled.median == pytest.approx(original.median * c, abs=1e-9)
    assert scaled.mad == pytest.approx(original.mad * c)
    assert scaled.low == pytest.approx(original.low * c, abs=1e-6)
    assert scaled.high == pytest.approx(original.high * c, abs=1e-6)


@given(histories, ks, st.integers(min_value=-20_000, max_value=20_000), st.integers(-1_000_000, 1_000_000))
def test_adding_a_constant_leaves_the_verdict_unchanged(history, k, value, constant):
    original = band([float(item) for item in history], k)
    assume(raw_mad(history) > 0)  # a flat history's floor follows the median's size, by design
    # Away from the bounds themselves, where rounding the shifted sum could go either way.
    assume(min(abs(value - original.low), abs(value - original.high)) > 1e-6)
    shifted = band([float(item + constant) for item in history], k)
    assert verdict(float(value + constant), shifted) == verdict(float(value), original)
