"""KPI series: a KPI's calculation pushed down to where its output's data lives.

One query computes every stored grain (day, week, month, and the KPI's own grain when coarser)
for the total and for each breakdown dimension: ``GROUP BY GROUPING SETS`` on DuckDB and
PostgreSQL, one ``SELECT`` per set joined by ``UNION ALL`` on SQLite. Each window is aggregated
from the rows, so a distinct count over a week is the distinct users of that week — never the
sum of its days.

Periods are calendar periods in the KPI time zone (``LODESTAR_KPI_TIME_ZONE``, by default the
hub's ``TIME_ZONE``): a time-zone-aware timestamp is converted to it, a naive timestamp is taken as
UTC (as the hub documents its data) and converted, and a date is a calendar day as it stands.
Weeks start on Monday (ISO). A period that had not ended when it was computed is marked partial.

The values are stored (``KPIPoint``) by ``store``: a run replaces the points from the first
period the data still holds onwards, so history older than the data (a raw log that keeps only
recent days) is kept.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from products.choices import Aggregation, Grain
from products.kpi_filters import parse as parse_filter
from products.kpi_filters import to_sql as filter_sql
from products.models import KPI
from products.sources import READ_ERRORS, Source, error_message, open_source
from utilities.periods import next_period

from .choices import KPIRunStatus
from .models import KPIPoint, KPIRun

logger = logging.getLogger(__name__)

BASE_GRAINS = (Grain.DAY, Grain.WEEK, Grain.MONTH)
UTC_NAMES = {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu", "Etc/Zulu", "Universal", "Etc/Universal"}
# A breakdown by a column of thousands of values is a drill-down, not a chart: refuse it rather than
# store millions of points.
MAX_RESULT_ROWS = 200_000
# A distribution of more values than this is a column of measures, not of counts: binned by the caller.
MAX_DISTRIBUTION_VALUES = 200
# A ratio's denominators that add up over days; the others need the window computed where the data lives.
SUMMABLE_DENOMINATORS = {Aggregation.COUNT, Aggregation.SUM}


class KPIError(Exception):
    """The KPI cannot be computed as defined (no output, no time column, a column missing)."""


@dataclass
class Point:
    grain: str
    period_start: date
    dimension: str
    member: str
    value: float | None
    numerator: float | None
    denominator: float | None
    rows: int
    partial: bool


# --- Periods ---------------------------------------------------------------------------------


def kpi_time_zone() -> ZoneInfo:
    return ZoneInfo(getattr(settings, "LODESTAR_KPI_TIME_ZONE", "") or settings.TIME_ZONE)


def stored_grains(kpi: KPI) -> list[str]:
    """Day, week and month always (dashboards pick their window), and the KPI's own grain when coarser."""
    grains = list(BASE_GRAINS)
    if kpi.grain and kpi.grain not in grains:
        grains.append(kpi.grain)
    return grains


def local_today(now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(kpi_time_zone()).date()


def is_partial(start: date, grain: str, today: date) -> bool:
    """Had the period not ended on ``today`` (in the KPI time zone)?"""
    return next_period(start, grain) > today


# --- The query -------------------------------------------------------------------------------


def time_kind(source: Source, column: str) -> str:
    """How the time column is typed where it lives: date, zoned (timestamp with time zone), naive or text."""
    kind = source.time_kind(column)
    if kind is None:
        raise KPIError(f"The output has no column {column!r} where its data lives.")
    return kind


class Query:
    """The SQL of one KPI on one open source, and the reading of its rows into points."""

    def __init__(self, kpi: KPI, source: Source, zone: ZoneInfo) -> None:
        if not kpi.output_id or not kpi.aggregation:
            raise KPIError("The KPI has no calculation: it needs an output and an aggregation.")
        if not kpi.time_column:
            raise KPIError("The KPI has no time column: a series needs one.")
        self.kpi, self.source, self.zone = kpi, source, zone
        self.grains = stored_grains(kpi)
        self.dimensions = list(kpi.dimensions or [])
        self.kind = time_kind(source, kpi.time_column)
        self.float_type = {"duckdb": "DOUBLE", "postgresql": "DOUBLE PRECISION"}.get(source.dialect, "REAL")

    # The inner SELECT: one row per data row, with its periods, its dimension values and the measured columns.

    def inner(self, extra: tuple[str, ...] = (), where: tuple[str, ...] = ()) -> str:
        """The KPI's rows (``row_conditions``, and ``where``) with their periods, dimension values and measured
        columns, and the ``extra`` expressions."""
        quote = self.source.quote
        time_column = quote(self.kpi.time_column)
        selected = [f"{self.period_expr(time_column, grain)} AS {quote('g_' + grain)}" for grain in self.grains]
        selected += [
            f"{self.source.as_text(quote(name))} AS {quote(f'x{index}')}" for index, name in enumerate(self.dimensions)
        ]
        if self.kpi.column:
            selected.append(f"{quote(self.kpi.column)} AS {quote('v1')}")
        if self.kpi.aggregation == Aggregation.RATIO and self.kpi.denominator_column:
            selected.append(f"{quote(self.kpi.denominator_column)} AS {quote('v2')}")
        selected += extra
        conditions = [*self.row_conditions(), *where]
        return f"SELECT {', '.join(selected)} FROM {self.source.relation} WHERE {' AND '.join(conditions)}"

    def row_conditions(self) -> list[str]:
        """The rows the KPI counts: a time value, and its filter (columns quoted, values bound)."""
        conditions = [f"{self.source.quote(self.kpi.time_column)} IS NOT NULL"]
        row_filter = filter_sql(parse_filter(self.kpi.filter), self.source.quote, self.source.bind)
        return conditions + [row_filter] if row_filter else conditions

    def period_expr(self, column: str, grain: str) -> str:
        dialect = self.source.dialect
        if dialect == "sqlite":
            return f"lodestar_period({column}, '{grain}', {self.source.bind(self.zone.key)})"
        local = self.local_time(column)
        if grain == Grain.DAY:
            return f"CAST({local} AS DATE)"
        return f"CAST(date_trunc('{grain}', {local}) AS DATE)"  # a grain of our own list: safe as a literal

    def local_time(self, column: str) -> str:
        """The column as a local (naive) timestamp or date in the KPI time zone."""
        zone = self.source.bind(self.zone.key)
        if self.kind == "date":
            return column
        if self.source.dialect == "duckdb":
            as_utc = column if self.kind in ("naive", "zoned") else f"TRY_CAST({column} AS TIMESTAMP)"
            if self.zone.key in UTC_NAMES:
                # Arithmetic, not a time-zone lookup per row: a third less CPU on ten million rows (bench/kpis).
                return f"make_timestamp(epoch_us({column}))" if self.kind == "zoned" else as_utc
            if self.kind == "zoned":
                return f"timezone({zone}, {column})"
            return f"timezone({zone}, timezone('UTC', {as_utc}))"
        # PostgreSQL
        if self.kind == "zoned":
            return f"({column} AT TIME ZONE {zone})"
        as_naive = column if self.kind == "naive" else f"CAST({column} AS TIMESTAMP)"
        return f"(({as_naive} AT TIME ZONE 'UTC') AT TIME ZONE {zone})"

    # The measures, over the inner rows.

    def measures(self) -> dict[str, str]:
        aggregation = self.kpi.aggregation
        value, as_float = '"v1"', lambda expr: f"CAST({expr} AS {self.float_type})"
        measures = {"n": "COUNT(*)"}
        if aggregation == Aggregation.COUNT:
            measures["num"] = "COUNT(*)"
        elif aggregation == Aggregation.COUNT_DISTINCT:
            measures["val"] = f"COUNT(DISTINCT {value})"
        elif aggregation == Aggregation.SUM:
            measures["num"] = as_float(f"SUM({value})")
        elif aggregation == Aggregation.AVG:
            measures["num"] = as_float(f"SUM({value})")
            measures["den"] = f"COUNT({value})"
        elif aggregation in (Aggregation.MIN, Aggregation.MAX):
            measures["val"] = as_float(f"{aggregation.upper()}({value})")
        elif aggregation == Aggregation.RATIO:
            measures["num"] = as_float(f"SUM({value})") if self.kpi.column else "COUNT(*)"
            measures["den"] = self.denominator()
        else:
            raise KPIError(f"Unknown aggregation {aggregation!r}.")
        return measures

    def denominator(self) -> str:
        aggregation, value = self.kpi.denominator_aggregation, '"v2"'
        if aggregation == Aggregation.COUNT:
            return "COUNT(*)"
        if not self.kpi.denominator_column:
            raise KPIError("The ratio's denominator needs a column.")
        if aggregation == Aggregation.COUNT_DISTINCT:
            return f"COUNT(DISTINCT {value})"
        if aggregation in (Aggregation.SUM, Aggregation.AVG, Aggregation.MIN, Aggregation.MAX):
            return f"CAST({aggregation.upper()}({value}) AS {self.float_type})"
        raise KPIError(f"A ratio's denominator is count, count_distinct, sum, avg, min or max, not {aggregation!r}.")

    def sql(self) -> str:
        """One block per breakdown (the total first), each grouping its rows by every grain at once.

        The blocks are joined by ``UNION ALL`` so a database holds one breakdown's distinct-count hash
        tables at a time (bench/kpis: 1.3 GB spilled with all of them at once, 47 MB this way). SQLite
        has no GROUPING SETS: a block per grain and breakdown.
        """
        measures = ", ".join(f"{expr} AS {name}" for name, expr in self.measures().items())
        grain_keys = [f'"g_{grain}"' for grain in self.grains]
        dimension_keys = [f'"x{index}"' for index in range(len(self.dimensions))]
        blocks = []
        for dimension in [None, *dimension_keys]:
            columns = grain_keys + [f"{key if key == dimension else 'NULL'} AS {key}" for key in dimension_keys]
            literal = dimension.strip('"') if dimension else ""
            if self.source.dialect == "sqlite":
                for grain_key in grain_keys:
                    grouped = {grain_key, dimension}
                    selected = [f"{key if key in grouped else 'NULL'} AS {key}" for key in grain_keys + dimension_keys]
                    group = ", ".join([grain_key] + ([dimension] if dimension else []))
                    blocks.append(
                        f"SELECT '{grain_key.strip(chr(34))[2:]}' AS grain, '{literal}' AS dim, {', '.join(selected)}, "
                        f"{measures} FROM ({self.inner()}) inner_rows GROUP BY {group}"
                    )
                continue
            sets = ", ".join("(" + ", ".join([key] + ([dimension] if dimension else [])) + ")" for key in grain_keys)
            blocks.append(
                f"SELECT GROUPING({', '.join(grain_keys)}) AS grouping_id, '{literal}' AS dim, {', '.join(columns)}, "
                f"{measures} FROM ({self.inner()}) inner_rows GROUP BY GROUPING SETS ({sets})"
            )
        return " UNION ALL ".join(blocks)

    def window_conditions(self, start: date, end: date, dimension: str, members: list[str] | None) -> list[str]:
        """The rows of the days from ``start`` up to (not including) ``end``, of some members of a dimension or all."""
        day = self.period_expr(self.source.quote(self.kpi.time_column), Grain.DAY)
        bound = (lambda value: value.isoformat()) if self.source.dialect == "sqlite" else (lambda value: value)
        conditions = [f"{day} >= {self.source.bind(bound(start))}", f"{day} < {self.source.bind(bound(end))}"]
        if dimension and members is not None:
            conditions.append(self.source.text_in(dimension, members) if members else "1 = 0")
        return conditions

    def window_sql(self, start: date, end: date, dimension: str, members: list[str] | None, by: str = "") -> str:
        """The measures over a window; with ``by``, one row per value of that column (as text, "member")."""
        where = tuple(self.window_conditions(start, end, dimension, members))
        measures = ", ".join(f"{expr} AS {name}" for name, expr in self.measures().items())
        if not by:
            return f"SELECT {measures} FROM ({self.inner(where=where)}) inner_rows"
        inner = self.inner((f"{self.source.as_text(self.source.quote(by))} AS member",), where)
        return f"SELECT member, {measures} FROM ({inner}) inner_rows GROUP BY member"

    def distribution_sql(self, column: str, start: date, end: date, dimension: str, members: list[str] | None) -> str:
        """How many rows hold each value of ``column`` in the window (the KPI's filter applies)."""
        quote = self.source.quote
        conditions = [
            *self.row_conditions(),
            f"{quote(column)} IS NOT NULL",
            *self.window_conditions(start, end, dimension, members),
        ]
        return (
            f"SELECT {quote(column)} AS value, COUNT(*) AS n FROM {self.source.relation} "
            f"WHERE {' AND '.join(conditions)} GROUP BY {quote(column)} ORDER BY {quote(column)} "
            f"LIMIT {MAX_DISTRIBUTION_VALUES + 1}"
        )

    # Reading the rows.

    def points(self, rows: list[dict], today: date) -> list[Point]:
        if len(rows) > MAX_RESULT_ROWS:
            raise KPIError(
                f"The breakdown gives {len(rows):,} values (at most {MAX_RESULT_ROWS:,}): "
                "a dimension has too many distinct values to chart."
            )
        points = []
        for row in rows:
            grain, dimension = self.set_of(row)
            start = as_date(row[f"g_{grain}"])
            if start is None:  # a time value that is not a date or timestamp: no period to put it in
                continue
            name = self.dimensions[int(dimension[1:])] if dimension else ""
            member = "" if not dimension or row[dimension] is None else str(row[dimension])
            points.append(self.point(row, grain, start, name, member, today))
        return points

    def set_of(self, row: dict) -> tuple[str, str | None]:
        """The grain and the breakdown (its column alias, None for the total) a result row belongs to."""
        dimension = row["dim"] or None
        if "grain" in row:  # SQLite's blocks name their grain
            return row["grain"], dimension
        mask = int(row["grouping_id"])  # a bit per grain key, the last key the lowest: 0 where grouped by it
        for position, grain in enumerate(self.grains):
            if not mask & (1 << (len(self.grains) - 1 - position)):
                return grain, dimension
        raise KPIError(f"A result row of no grain: GROUPING gave {mask}.")

    def point(self, row: dict, grain: str, start: date, dimension: str, member: str, today: date) -> Point:
        numerator, denominator = number(row.get("num")), number(row.get("den"))
        aggregation = self.kpi.aggregation
        if aggregation in (Aggregation.COUNT_DISTINCT, Aggregation.MIN, Aggregation.MAX):
            value = number(row.get("val"))
        elif aggregation in (Aggregation.AVG, Aggregation.RATIO):
            value = numerator / denominator if numerator is not None and denominator else None
        else:
            value = numerator if numerator is not None else 0.0
        return Point(
            grain=grain,
            period_start=start,
            dimension=dimension,
            member=member,
            value=value,
            numerator=numerator,
            denominator=denominator,
            rows=int(row["n"] or 0),
            partial=is_partial(start, grain, today),
        )


def number(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if value != value else value  # NaN


def as_date(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


# --- Computing and storing -------------------------------------------------------------------


@contextmanager
def query_of(kpi: KPI, source: Source | None = None) -> Iterator[Query]:
    """The KPI's query on ``source``, or on its output's source opened here and closed afterwards."""
    own_source = source is None
    if own_source:
        source = open_source(kpi.output)
    try:
        yield Query(kpi, source, kpi_time_zone())
    finally:
        if own_source:
            source.close()


def compute_points(kpi: KPI, source: Source | None = None, now: datetime | None = None) -> list[Point]:
    """The KPI's points, computed where its output's data lives (opening the source unless given one)."""
    with query_of(kpi, source) as query:
        return query.points(query.source.fetch(query.sql()), local_today(now))


def window_value(kpi: KPI, start: date, end: date, dimension: str = "", members: list[str] | None = None):
    """The KPI over the days from ``start`` up to ``end`` (excluded), computed where the data lives."""
    with query_of(kpi) as query:
        row = query.source.fetch(query.window_sql(start, end, dimension, members))[0]
        return query.point(row, Grain.DAY, start, "", "", local_today()).value


def window_by_member(kpi: KPI, start: date, end: date, by: str, dimension: str = "", members=None) -> dict:
    """The KPI over a window for each value of the column ``by`` (text; "" for empty), computed where the data lives."""
    with query_of(kpi) as query:
        rows = query.source.fetch(query.window_sql(start, end, dimension, members, by=by))
        today = local_today()
        return {
            "" if row["member"] is None else str(row["member"]): query.point(row, Grain.DAY, start, "", "", today).value
            for row in rows
        }


def distribution(kpi: KPI, column: str, start: date, end: date, dimension: str = "", members=None) -> list[tuple]:
    """(value, rows) of ``column`` over a window, ordered by value; at most MAX_DISTRIBUTION_VALUES + 1 of them."""
    with query_of(kpi) as query:
        rows = query.source.fetch(query.distribution_sql(column, start, end, dimension, members))
        return [(row["value"], int(row["n"])) for row in rows]


@transaction.atomic
def store(kpi: KPI, points: list[Point], computed_at: datetime) -> int:
    """Replace the KPI's points from the first period each grain now holds onwards; returns how many were written.

    Points of a dimension the KPI no longer breaks down by go, whatever their period.
    """
    stale = KPIPoint.objects.filter(kpi=kpi).exclude(dimension="").exclude(dimension__in=kpi.dimensions or [])
    stale.delete()
    firsts: dict[str, date] = {}
    for point in points:
        if point.grain not in firsts or point.period_start < firsts[point.grain]:
            firsts[point.grain] = point.period_start
    if firsts:
        replaced = Q()
        for grain, first in firsts.items():
            replaced |= Q(grain=grain, period_start__gte=first)
        KPIPoint.objects.filter(kpi=kpi).filter(replaced).delete()
    KPIPoint.objects.bulk_create(
        [
            KPIPoint(
                kpi=kpi,
                grain=point.grain,
                period_start=point.period_start,
                dimension=point.dimension,
                member=point.member[:300],
                value=point.value,
                numerator=point.numerator,
                denominator=point.denominator,
                rows=point.rows,
                partial=point.partial,
                computed_at=computed_at,
            )
            for point in points
        ],
        batch_size=2000,
    )
    return len(points)


def compute(kpi: KPI, trigger: str = "schedule", user=None, source: Source | None = None) -> KPIRun:
    """Compute and store the KPI's series; the run records how it went (a KPI that cannot be computed: an error)."""
    started = time.perf_counter()
    run = KPIRun.objects.create(kpi=kpi, trigger=trigger, requested_by=user)
    try:
        points = compute_points(kpi, source)
    except (KPIError, *READ_ERRORS) as exc:
        return finish(run, started, error=error_message(exc))
    except Exception as exc:  # the SQL failed in a way the source does not classify: still a recorded error
        logger.exception("KPI %s failed", kpi.pk)
        return finish(run, started, error=error_message(exc))
    written = store(kpi, points, run.started_at)
    run = finish(run, started, points=written)
    after_compute(run)
    return run


def finish(run: KPIRun, started: float, *, points: int = 0, error: str = "") -> KPIRun:
    run.status = KPIRunStatus.ERROR if error else KPIRunStatus.OK
    run.error = error
    run.points = points
    run.finished_at = timezone.now()
    run.duration_ms = int((time.perf_counter() - started) * 1000)
    run.save(update_fields=["status", "error", "points", "finished_at", "duration_ms"])
    return run


# Called with each successful run: alerts hook in here (``quality.kpi_alerts``).
AFTER_COMPUTE: list = []


def after_compute(run: KPIRun) -> None:
    """Run the hooks; one that fails is logged, never the computation's failure (its points are stored)."""
    for hook in AFTER_COMPUTE:
        try:
            hook(run)
        except Exception:
            logger.exception("A hook failed after KPI run %s", run.pk)


def compute_many(kpis: Iterable[KPI], trigger: str = "schedule", user=None) -> list[KPIRun]:
    """Compute KPIs, opening each output's source once for all its KPIs."""
    by_output: dict[int, list[KPI]] = {}
    for kpi in kpis:
        by_output.setdefault(kpi.output_id, []).append(kpi)
    runs = []
    for group in by_output.values():
        try:
            source = open_source(group[0].output)
        except READ_ERRORS as exc:
            for kpi in group:
                run = KPIRun.objects.create(kpi=kpi, trigger=trigger, requested_by=user)
                runs.append(finish(run, time.perf_counter(), error=error_message(exc)))
            continue
        try:
            runs += [compute(kpi, trigger, user, source=source) for kpi in group]
        finally:
            source.close()
    return runs
