"""A dashboard's tiles for one reader, date range and filter: cards, trends, breakdowns and distributions.

Every number comes from ``quality.series`` (stored points, the reader's breakdown rights) or, where
stored points cannot answer (a distinct count over an arbitrary window, a breakdown narrowed by
another dimension, a distribution), from a query where the data lives, cached until the KPI is
computed again. A tile never reads rows: whoever may see the product sees its dashboards.

A filter narrows the tiles whose KPI breaks down by that dimension; the members a reader chooses
are cut to those they may see. A tile whose KPI has no such dimension stays whole, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.core.cache import cache

from products.choices import Aggregation, KPIStatus
from products.models import KPI, Dashboard
from products.sources import READ_ERRORS, error_message
from utilities.charts import Chart
from utilities.charts import Series as ChartSeries
from utilities.periods import next_period, period_start

from . import kpis, series

LIVE_CACHE_SECONDS = 3600
GRAIN_LABELS = {"day": "Day", "week": "Week", "month": "Month", "quarter": "Quarter", "year": "Year"}


@dataclass
class Window:
    """The dates a dashboard shows, both ends included, and the window of the same length before it."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def before(self) -> Window:
        return Window(self.start - timedelta(days=self.days), self.start - timedelta(days=1))


@dataclass
class Tile:
    kind: str
    title: str
    kpi: KPI | None
    chart: Chart | None = None
    value: float | None = None
    previous: float | None = None
    change_percent: float | None = None
    tone: str = "neutral"
    period_label: str = ""
    notes: list[str] = field(default_factory=list)
    error: str = ""
    spec: dict = field(default_factory=dict)  # the tile as the dashboard defines it


def default_window(dashboard: Dashboard, today: date | None = None) -> Window:
    end = today or kpis.local_today()
    return Window(end - timedelta(days=dashboard.default_days - 1), end)


def build(dashboard: Dashboard, user, window: Window, chosen: dict[str, list[str]]) -> list[Tile]:
    """The dashboard's tiles, in order; ``chosen`` maps a filter dimension to the members picked (none: all)."""
    by_name = {kpi.name: kpi for kpi in dashboard.product.kpis.select_related("output")}
    tiles = []
    for index, spec in enumerate(dashboard.tiles):
        kpi = by_name.get(spec.get("kpi"))
        title = spec.get("title") or (kpi.name if kpi else spec.get("kpi", ""))
        if kpi is not None and kpi.status == KPIStatus.DEPRECATED:
            continue  # a deprecated KPI leaves the dashboards (its page keeps its history)
        if kpi is None:
            tiles.append(Tile(spec["show"], title, None, error="This KPI is no longer part of the product.", spec=spec))
            continue
        tile = Tile(spec["show"], title, kpi, spec=spec)
        try:
            BUILDERS[spec["show"]](tile, spec, f"tile-{index}", user, window, narrowing(dashboard, kpi, user, chosen))
        except (kpis.KPIError, *READ_ERRORS) as exc:
            tile.error = f"Cannot compute this tile: {error_message(exc)}"
        tiles.append(tile)
    return tiles


@dataclass
class Narrowing:
    """The filter that applies to one tile's KPI: a dimension and the members kept (None: no filter)."""

    dimension: str = ""
    members: list[str] | None = None
    notes: list[str] = field(default_factory=list)


def narrowing(dashboard: Dashboard, kpi: KPI, user, chosen: dict[str, list[str]]) -> Narrowing:
    result = Narrowing()
    for dimension in dashboard.filters:
        picked = chosen.get(dimension) or []
        if not picked:
            continue
        if dimension not in (kpi.dimensions or []):
            result.notes.append(f"Not narrowed by {dimension}: this KPI is not broken down by it.")
            continue
        if result.dimension:
            result.notes.append(f"Narrowed by {result.dimension} only; not also by {dimension}.")
            continue
        allowed = series.allowed_members(user, kpi, dimension)
        members = [member for member in picked if allowed is None or member in allowed]
        result.dimension, result.members = dimension, members
    return result


# --- Tiles -------------------------------------------------------------------------------------


def latest_window(kpi: KPI, user) -> tuple[Window, str, Window | None] | None:
    """The KPI's latest complete period as a window, its label, and the period before it (None when there is none);
    None before the first computation."""
    card = series.card(kpi, user)
    if card.period is None:
        return None
    before = None
    if card.previous_period is not None:
        before = Window(card.previous_period, card.period - timedelta(days=1))
    return period_window(card.period, card.grain), dated_label(card.period, card.grain), before


def period_window(start: date, grain: str) -> Window:
    return Window(start, next_period(start, grain) - timedelta(days=1))


def dated_label(start: date, grain: str) -> str:
    """A period named with its year, as a card's range is: ``22 Nov 2026``, ``week of 16 Nov 2026``, ``Oct 2026``."""
    if grain == "day":
        return start.strftime("%-d %b %Y")
    if grain == "week":
        return f"week of {start.strftime('%-d %b %Y')}"
    if grain == "month":
        return start.strftime("%b %Y")
    if grain == "quarter":
        return f"Q{(start.month - 1) // 3 + 1} {start.year}"
    return str(start.year)


def value_over(kpi: KPI, user, window: Window, narrow: Narrowing) -> float | None:
    return series.window_value(kpi, user, window.start, window.end, narrow.dimension, narrow.members)


def build_card(tile: Tile, spec: dict, key: str, user, window: Window, narrow: Narrowing) -> None:
    tile.notes += narrow.notes
    before = window.before()
    if spec.get("window") == "latest":
        latest = latest_window(tile.kpi, user)
        if latest is None:
            tile.error = "Not computed yet."
            return
        window, tile.period_label, before = latest
    else:
        tile.period_label = f"{window.start:%-d %b %Y} – {window.end:%-d %b %Y}"
    tile.value = value_over(tile.kpi, user, window, narrow)
    tile.previous = value_over(tile.kpi, user, before, narrow) if before is not None else None
    if tile.value is not None and tile.previous:
        tile.change_percent = (tile.value - tile.previous) / abs(tile.previous) * 100
        tile.tone = series.change_tone(tile.kpi, tile.value - tile.previous)


def build_trend(tile: Tile, spec: dict, key: str, user, window: Window, narrow: Narrowing) -> None:
    tile.notes += narrow.notes
    kpi = tile.kpi
    grain = spec.get("grain") or kpi.grain or "day"
    found = series.read(
        kpi, user, grain=grain, start=period_start(window.start, grain), end=window.end,
        dimension=narrow.dimension, members=narrow.members,
    )  # fmt: skip
    if narrow.dimension and not found:
        tile.notes.append(f"None of the {narrow.dimension} values chosen has data you may see.")
    lines = [series.chart_series(each.label if narrow.dimension else kpi.name, each.values, grain) for each in found]
    # The target is the whole KPI's, per period of its own grain: not drawn on other grains or on chosen members.
    whole = not narrow.dimension and grain == (kpi.grain or "day")
    target = float(kpi.target) if kpi.target is not None and whole else None
    tile.chart = Chart(
        key, tile.title, "line", GRAIN_LABELS.get(grain, grain), axis_label(kpi), lines,
        unit=kpi.unit, target=target, x_type=series.x_type(grain),
    )  # fmt: skip


def build_breakdown(tile: Tile, spec: dict, key: str, user, window: Window, narrow: Narrowing) -> None:
    kpi, dimension = tile.kpi, spec["dimension"]
    if spec.get("window") == "latest":
        latest = latest_window(kpi, user)
        if latest is None:
            tile.error = "Not computed yet."
            return
        window, tile.period_label, _ = latest
    values = breakdown_values(kpi, user, dimension, window, narrow)
    tile.notes += narrow.notes
    ordered = sorted(values.items(), key=lambda item: (item[1] is None, -(item[1] or 0), item[0]))
    labels = [member or "(empty)" for member, _ in ordered]
    bars = [ChartSeries(kpi.name, labels, [value for _, value in ordered])]
    tile.chart = Chart(
        key, tile.title, "bar", dimension.replace("_", " ").capitalize(), axis_label(kpi), bars,
        unit=kpi.unit, x_type="category",
    )  # fmt: skip


def breakdown_values(kpi: KPI, user, dimension: str, window: Window, narrow: Narrowing) -> dict[str, float | None]:
    """The KPI over the window for each member of ``dimension`` the reader may see."""
    allowed = series.allowed_members(user, kpi, dimension)
    if narrow.dimension == dimension:
        members = narrow.members
    else:
        members = sorted(allowed) if allowed is not None else None
    if narrow.dimension and narrow.dimension != dimension or kpi.aggregation == Aggregation.COUNT_DISTINCT:
        values = live(
            kpi, "by", window, dimension, narrow.dimension, narrow.members,
            lambda: kpis.window_by_member(
                kpi, window.start, window.end + timedelta(days=1), dimension, narrow.dimension, narrow.members
            ),
        )  # fmt: skip
        return {member: value for member, value in values.items() if allowed is None or member in allowed}
    return series.window_values_by_member(kpi, user, window.start, window.end, dimension, members)


def build_distribution(tile: Tile, spec: dict, key: str, user, window: Window, narrow: Narrowing) -> None:
    tile.notes += narrow.notes
    kpi, column = tile.kpi, spec["column"]
    counts = live(
        kpi, f"dist:{column}", window, "", narrow.dimension, narrow.members,
        lambda: kpis.distribution(kpi, column, window.start, window.end + timedelta(days=1), narrow.dimension,
                                  narrow.members),
    )  # fmt: skip
    if len(counts) > kpis.MAX_DISTRIBUTION_VALUES:
        tile.error = f"{column} has more than {kpis.MAX_DISTRIBUTION_VALUES} distinct values: too many to chart."
        return
    bars = [ChartSeries("Rows", [value for value, _ in counts], [rows for _, rows in counts])]
    label = column.replace("_", " ").capitalize()
    tile.chart = Chart(key, tile.title, "histogram", label, "Rows", bars, x_type="category")


def live(kpi: KPI, what: str, window: Window, dimension: str, narrowed_by: str, members, compute):
    """A query where the data lives, cached until the KPI is computed again."""
    picked = ",".join(sorted(members)) if members is not None else "*"
    key = series.cache_key(
        "kpi-live", kpi.pk, series.computed_stamp(kpi), what, window.start, window.end, dimension, narrowed_by, picked
    )
    found = cache.get(key)
    if found is None:
        found = {"value": compute()}
        cache.set(key, found, LIVE_CACHE_SECONDS)
    return found["value"]


def axis_label(kpi: KPI) -> str:
    return f"{kpi.name} ({kpi.unit})" if kpi.unit else kpi.name


BUILDERS = {
    "card": build_card,
    "trend": build_trend,
    "breakdown": build_breakdown,
    "distribution": build_distribution,
}
