"""Reading KPI series for people: stored points, the viewer's rights, empty periods, cards and windows.

Who sees what (the policy, ``access.policy``, decides who may see the product):

* a KPI's totals are aggregates: whoever may see the product sees them;
* a breakdown by a column that a row filter of the output restricts shows a viewer only the
  members their rules allow (none, when no rule names them); by any other column, every member;
* rows are never read here: drilling down to them goes through delivery, which needs ``read_output``.

A window longer than the stored periods (a dashboard's date range) is rolled up from the daily
points where the measure allows it (count, sum, average, ratio: their numerators and denominators
add up; minimum and maximum: the least and greatest). A distinct count cannot be added up: it is
computed for the window where the data lives (``quality.kpis.window_value``) and cached until the
KPI is computed again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.core.cache import cache
from django.db.models import Min, OuterRef, Q, Subquery

from products.choices import Aggregation, Direction, Grain
from products.delivery import row_scope
from products.models import KPI, RowFilter
from utilities.charts import Series as ChartSeries
from utilities.periods import period_start, periods_back, periods_between

from . import kpis
from .models import KPIPoint, KPIRun

# How far back a chart looks by default, per grain.
DEFAULT_PERIODS = {Grain.DAY: 90, Grain.WEEK: 26, Grain.MONTH: 24, Grain.QUARTER: 12, Grain.YEAR: 10}
# Measures whose empty period is a zero rather than no value.
ZERO_WHEN_EMPTY = {Aggregation.COUNT, Aggregation.COUNT_DISTINCT, Aggregation.SUM}
NEAR_TARGET = 0.9  # attainment from 90 % to 100 % is "near", below it "off"
WINDOW_CACHE_SECONDS = 3600


@dataclass
class Value:
    period_start: date
    value: float | None
    partial: bool = False
    rows: int = 0


@dataclass
class Series:
    kpi: KPI
    grain: str
    dimension: str = ""
    member: str = ""
    values: list[Value] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.member or ("(empty)" if self.dimension else self.kpi.name)


def grain_of(kpi: KPI, grain: str | None = None) -> str:
    return grain or kpi.grain or Grain.DAY


# --- Rights on breakdowns --------------------------------------------------------------------


# Inside ``remembered_rights()`` (one page's work), each reader's rights on an output's dimension are read once.
_remembered: ContextVar[dict | None] = ContextVar("kpi_rights", default=None)


@contextmanager
def remembered_rights() -> Iterator[None]:
    """Remember ``allowed_members`` answers until the block ends: a dashboard asks the same ones for every tile."""
    token = _remembered.set({})
    try:
        yield
    finally:
        _remembered.reset(token)


def allowed_members(user, kpi: KPI, dimension: str) -> set[str] | None:
    """The members of ``dimension`` the viewer may see; None for all of them."""
    memo = _remembered.get()
    if memo is None:
        return read_allowed_members(user, kpi, dimension)
    key = (user.pk, kpi.output_id, dimension)
    if key not in memo:
        memo[key] = read_allowed_members(user, kpi, dimension)
    return memo[key]


def read_allowed_members(user, kpi: KPI, dimension: str) -> set[str] | None:
    output = kpi.output
    if output is None or not dimension:
        return None
    filtered_columns = set(RowFilter.objects.filter(output=output).values_list("column", flat=True))
    if dimension not in filtered_columns:
        return None
    by_name = {column.name: column for column in output.columns.all()}
    scope = row_scope(user, output, by_name)
    if scope is None:
        return None
    return {value for column, values in scope if column == dimension for value in values}


# --- Series ------------------------------------------------------------------------------------


def default_range(grain: str, today: date | None = None) -> tuple[date, date]:
    """The default window of a chart: the last periods of the grain up to today (in the KPI time zone)."""
    today = today or kpis.local_today()
    return periods_back(period_start(today, grain), grain, DEFAULT_PERIODS.get(grain, 30)), today


def range_or_default(grain: str, start: date | None, end: date | None) -> tuple[date, date]:
    """``start`` and ``end``, each given or else the grain's default."""
    if start is not None and end is not None:
        return start, end
    default_start, default_end = default_range(grain)
    return start or default_start, end or default_end


def latest_run(kpi: KPI) -> KPIRun | None:
    return KPIRun.objects.filter(kpi=kpi).order_by("-started_at", "-id").first()


def read(
    kpi: KPI,
    user,
    *,
    grain: str | None = None,
    start: date | None = None,
    end: date | None = None,
    dimension: str = "",
    members: list[str] | None = None,
) -> list[Series]:
    """The total series, or one series per visible member of ``dimension``, with every period from start to end."""
    grain = grain_of(kpi, grain)
    start, end = range_or_default(grain, start, end)
    points = KPIPoint.objects.filter(
        kpi=kpi, grain=grain, dimension=dimension, period_start__gte=period_start(start, grain), period_start__lte=end
    )
    if dimension:
        allowed = allowed_members(user, kpi, dimension)
        if allowed is not None:
            points = points.filter(member__in=allowed)
        if members:
            points = points.filter(member__in=members)
    else:
        points = points.filter(member="")
    by_member: dict[str, dict[date, KPIPoint]] = {}
    for point in points.order_by("member", "period_start"):
        by_member.setdefault(point.member, {})[point.period_start] = point
    if not dimension:
        by_member.setdefault("", {})
    first = KPIPoint.objects.filter(kpi=kpi, grain=grain, dimension="").aggregate(first=Min("period_start"))["first"]
    today = kpis.local_today()
    return [
        Series(kpi, grain, dimension, member, values_of(kpi, grain, start, end, stored, first, today))
        for member, stored in by_member.items()
    ]


def values_of(
    kpi: KPI, grain: str, start: date, end: date, stored: dict[date, KPIPoint], first: date | None, today: date
) -> list[Value]:
    """Every period from ``start`` to ``end``: its stored point, or an empty period — 0 for counts and sums, no value
    for the others — and no value at all before ``first``, the first period the data holds."""
    empty = 0.0 if kpi.aggregation in ZERO_WHEN_EMPTY else None
    values = []
    for period in periods_between(start, end, grain):
        point = stored.get(period)
        if point is None:
            covered = first is not None and period >= first
            values.append(Value(period, empty if covered else None, kpis.is_partial(period, grain, today)))
        else:
            values.append(Value(period, point.value, point.partial, point.rows))
    return values


def members_of(kpi: KPI, user, dimension: str) -> list[str]:
    """Every member of ``dimension`` the KPI has points for that the viewer may see, most rows first."""
    points = KPIPoint.objects.filter(kpi=kpi, dimension=dimension, grain=Grain.MONTH)
    allowed = allowed_members(user, kpi, dimension)
    if allowed is not None:
        points = points.filter(member__in=allowed)
    totals: dict[str, int] = {}
    for member, rows in points.values_list("member", "rows"):
        totals[member] = totals.get(member, 0) + rows
    return sorted(totals, key=lambda member: (-totals[member], member))


# --- Cards -------------------------------------------------------------------------------------


@dataclass
class Card:
    """What a KPI card shows: the latest complete period against the one before and against the target."""

    kpi: KPI
    grain: str
    period: date | None = None
    value: float | None = None
    previous_period: date | None = None
    previous: float | None = None
    change: float | None = None  # value - previous
    change_percent: float | None = None
    tone: str = "neutral"  # good, bad or neutral: the change judged by the KPI's direction
    attainment: float | None = None  # share of the target reached, direction-aware (1.0 = on target)
    status: str = "unknown"  # on_target, near, off, unknown
    partial_period: date | None = None  # the period in progress, when there is one
    partial_value: float | None = None
    trend: Series | None = None
    last_run: KPIRun | None = None


def change_tone(kpi: KPI, change: float | None) -> str:
    if not change:
        return "neutral"
    better = change > 0 if kpi.direction == Direction.UP else change < 0
    return "good" if better else "bad"


def attainment(kpi: KPI, value: float | None) -> float | None:
    """How much of the target is reached: value/target when higher is better, target/value when lower is."""
    if kpi.target is None or value is None:
        return None
    target = float(kpi.target)
    if kpi.direction == Direction.UP:
        return value / target if target else None
    if value == 0:
        return None if target else 1.0
    return target / value


def target_status(share: float | None) -> str:
    if share is None:
        return "unknown"
    if share >= 1:
        return "on_target"
    return "near" if share >= NEAR_TARGET else "off"


def card(kpi: KPI, user, grain: str | None = None, start: date | None = None, end: date | None = None) -> Card:
    grain = grain_of(kpi, grain)
    (series,) = read(kpi, user, grain=grain, start=start, end=end)
    return card_from(kpi, series, latest_run(kpi))


def cards(many: list[KPI], periods: int) -> dict[int, Card]:
    """``card`` of each KPI over its grain's last ``periods`` periods up to today, by KPI id, in three queries.

    The totals only: cards show no breakdown, so no reader's row filter applies.
    """
    if not many:
        return {}
    today = kpis.local_today()
    windows: dict[int, tuple[str, date]] = {}  # KPI id → its grain and the first period its card shows
    for kpi in many:
        grain = grain_of(kpi)
        windows[kpi.pk] = (grain, periods_back(period_start(today, grain), grain, periods))
    wanted = Q()
    for kpi in many:
        grain, start = windows[kpi.pk]
        wanted |= Q(kpi=kpi.pk, grain=grain, period_start__gte=start)
    stored: dict[int, dict[date, KPIPoint]] = {}
    for point in KPIPoint.objects.filter(wanted, dimension="", member="", period_start__lte=today):
        stored.setdefault(point.kpi_id, {})[point.period_start] = point
    firsts = (
        KPIPoint.objects.filter(kpi__in=windows, dimension="")
        .values("kpi", "grain")
        .annotate(first=Min("period_start"))
    )
    first = {(row["kpi"], row["grain"]): row["first"] for row in firsts}
    newest = KPIRun.objects.filter(kpi=OuterRef("pk")).order_by("-started_at", "-id").values("pk")[:1]
    runs = {run.kpi_id: run for run in KPIRun.objects.filter(pk__in=KPI.objects.filter(pk__in=windows).values(
        run=Subquery(newest)
    ))}  # fmt: skip
    result = {}
    for kpi in many:
        grain, start = windows[kpi.pk]
        values = values_of(kpi, grain, start, today, stored.get(kpi.pk, {}), first.get((kpi.pk, grain)), today)
        result[kpi.pk] = card_from(kpi, Series(kpi, grain, values=values), runs.get(kpi.pk))
    return result


def card_from(kpi: KPI, series: Series, last_run: KPIRun | None) -> Card:
    """The card of a total series: its latest complete period against the one before, and against the target."""
    result = Card(kpi=kpi, grain=series.grain, trend=series, last_run=last_run)
    complete = [value for value in series.values if not value.partial]
    if kpi.aggregation not in ZERO_WHEN_EMPTY:
        # An average of nothing is no value: the latest period with data is current (a snapshot scored days ago).
        complete = [value for value in complete if value.value is not None]
    in_progress = [value for value in series.values if value.partial]
    if in_progress:
        result.partial_period, result.partial_value = in_progress[-1].period_start, in_progress[-1].value
    if not complete or last_run is None:
        return result
    latest = complete[-1]
    result.period, result.value = latest.period_start, latest.value
    if len(complete) > 1:
        before = complete[-2]
        result.previous_period, result.previous = before.period_start, before.value
        if latest.value is not None and before.value is not None:
            result.change = latest.value - before.value
            result.change_percent = result.change / abs(before.value) * 100 if before.value else None
    result.tone = change_tone(kpi, result.change)
    result.attainment = attainment(kpi, result.value)
    result.status = target_status(result.attainment)
    return result


# --- As words and charts ----------------------------------------------------------------------


def period_label(start: date | None, grain: str) -> str:
    """``22 Nov``, ``Week of 16 Nov``, ``Oct 2026``, ``Q4 2026``, ``2026``."""
    if start is None:
        return ""
    if grain == Grain.DAY:
        return f"{start.day} {start:%b}"
    if grain == Grain.WEEK:
        return f"Week of {start.day} {start:%b}"
    if grain == Grain.MONTH:
        return f"{start:%b %Y}"
    if grain == Grain.QUARTER:
        return f"Q{(start.month - 1) // 3 + 1} {start.year}"
    return str(start.year)


# Months, quarters and years are named on the x axis ("Oct 2026"): a date axis would tick them on Sundays.
NAMED_GRAINS = (Grain.MONTH, Grain.QUARTER, Grain.YEAR)


def x_type(grain: str) -> str:
    return "category" if grain in NAMED_GRAINS else "date"


def chart_series(name: str, values: list[Value], grain: str = Grain.DAY) -> ChartSeries:
    named = grain in NAMED_GRAINS
    return ChartSeries(
        name=name,
        x=[period_label(value.period_start, grain) if named else value.period_start for value in values],
        y=[value.value for value in values],
        partial=[value.partial for value in values],
    )


# --- Windows (a dashboard's date range) --------------------------------------------------------


def window_value(
    kpi: KPI, user, start: date, end: date, dimension: str = "", members: list[str] | None = None
) -> float | None:
    """The KPI over the days from ``start`` to ``end`` (inclusive), for the total or the given members."""
    if dimension:
        allowed = allowed_members(user, kpi, dimension)
        if allowed is not None:
            members = [member for member in (members or allowed) if member in allowed]
    if kpi.aggregation == Aggregation.COUNT_DISTINCT or (
        kpi.aggregation == Aggregation.RATIO and kpi.denominator_aggregation not in kpis.SUMMABLE_DENOMINATORS
    ):
        return distinct_window(kpi, start, end, dimension, members)
    points = KPIPoint.objects.filter(kpi=kpi, grain=Grain.DAY, period_start__gte=start, period_start__lte=end)
    if dimension and members is not None:
        points = points.filter(dimension=dimension, member__in=members)
    else:
        points = points.filter(dimension="", member="")
    return roll_up(kpi, list(points.values_list("value", "numerator", "denominator")))


def window_values_by_member(
    kpi: KPI, user, start: date, end: date, dimension: str, members: list[str] | None = None
) -> dict[str, float | None]:
    """The KPI over the days from ``start`` to ``end`` for each member of ``dimension`` the reader may see, rolled
    up from the stored days in one query. Not for distinct counts (see ``window_value``)."""
    allowed = allowed_members(user, kpi, dimension)
    points = KPIPoint.objects.filter(
        kpi=kpi, grain=Grain.DAY, dimension=dimension, period_start__gte=start, period_start__lte=end
    )
    if allowed is not None:
        points = points.filter(member__in=allowed)
    if members is not None:
        points = points.filter(member__in=members)
    rows: dict[str, list[tuple]] = {}
    for member, *values in points.values_list("member", "value", "numerator", "denominator"):
        rows.setdefault(member, []).append(tuple(values))
    return {member: roll_up(kpi, member_rows) for member, member_rows in rows.items()}


def roll_up(kpi: KPI, rows: list[tuple]) -> float | None:
    """Daily (value, numerator, denominator) rows as one value for the whole window."""
    aggregation = kpi.aggregation
    if aggregation in (Aggregation.MIN, Aggregation.MAX):
        values = [value for value, _, _ in rows if value is not None]
        if not values:
            return None
        return min(values) if aggregation == Aggregation.MIN else max(values)
    numerator = sum(num for _, num, _ in rows if num is not None)
    if aggregation in (Aggregation.COUNT, Aggregation.SUM):
        return numerator
    denominator = sum(den for _, _, den in rows if den is not None)
    return numerator / denominator if denominator else None


def computed_stamp(kpi: KPI) -> str:
    """What names the KPI's latest computation in cache keys: a new run, or a new database, is a new stamp."""
    run = latest_run(kpi)
    return f"{run.pk}@{run.started_at.isoformat()}" if run else "never"


def cache_key(prefix: str, *parts) -> str:
    text = ":".join(str(part) for part in parts)
    return f"{prefix}:" + hashlib.sha256(text.encode()).hexdigest()  # members can be long; cache keys cannot


def distinct_window(kpi: KPI, start: date, end: date, dimension: str, members: list[str] | None) -> float | None:
    """A distinct count over the window, computed where the data lives; cached until the KPI is computed again."""
    picked = ",".join(sorted(members)) if members is not None else "*"
    key = cache_key("kpi-window", kpi.pk, computed_stamp(kpi), start, end, dimension, picked)
    found = cache.get(key)
    if found is not None:
        return found["value"]
    value = kpis.window_value(kpi, start, end + timedelta(days=1), dimension, members)
    cache.set(key, {"value": value}, WINDOW_CACHE_SECONDS)
    return value
