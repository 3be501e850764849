"""Charts for any page: a ``Chart`` describes one, ``{% chart chart %}`` renders it (see ``template_tags``).

The server sends the chart as JSON (``Chart.spec()``) beside a data table (``Chart.table()``), and
``static/js/charts.js`` draws it with Plotly.js; without JavaScript the table is the chart.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from django.utils import timezone

ChartKind = Literal["line", "bar", "hbar", "histogram"]
XType = Literal["date", "category", "number"]
KINDS = ("line", "bar", "hbar", "histogram")
X_TYPES = ("date", "category", "number")
KEY = re.compile(r"[a-z0-9][a-z0-9_-]*", re.IGNORECASE)


@dataclass
class Series:
    """One line or set of bars: ``y[i]`` is the value at ``x[i]``; ``partial[i]`` marks a period still in progress."""

    name: str
    x: list
    y: list[float | None]
    partial: list[bool] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.y) != len(self.x):
            raise ValueError(f"Series {self.name!r}: {len(self.x)} x values but {len(self.y)} y values.")
        if self.partial and len(self.partial) != len(self.x):
            raise ValueError(f"Series {self.name!r}: partial must be empty or as long as x.")

    def is_partial(self, index: int) -> bool:
        return bool(self.partial) and bool(self.partial[index])


@dataclass
class Chart:
    """A chart with its labels; a histogram's series hold bins already counted (x: bin, y: count)."""

    key: str
    title: str
    kind: ChartKind
    x_label: str
    y_label: str
    series: list[Series]
    unit: str = ""
    target: float | None = None
    x_type: XType = "date"
    filename: str = ""
    # A sparkline: no axes nor margins, the value axis fitted to the values rather than starting at zero.
    compact: bool = False

    def __post_init__(self) -> None:
        if not KEY.fullmatch(self.key):
            raise ValueError(f"Chart key {self.key!r} must be letters, digits, '-' and '_' (it names an HTML id).")
        if self.kind not in KINDS:
            raise ValueError(f"Chart kind {self.kind!r} is not one of {', '.join(KINDS)}.")
        if self.x_type not in X_TYPES:
            raise ValueError(f"Chart x_type {self.x_type!r} is not one of {', '.join(X_TYPES)}.")
        self.filename = self.filename or self.key

    def spec(self) -> dict:
        """Everything ``charts.js`` needs, JSON-ready: dates as ISO strings, NaN as None."""
        header, rows = self.table()
        return {
            "key": self.key,
            "title": self.title,
            "kind": self.kind,
            "x_label": self.x_label,
            "y_label": self.y_label,
            "unit": self.unit,
            "target": json_number(self.target),
            "x_type": self.x_type,
            "filename": self.filename,
            "compact": self.compact,
            "series": [
                {
                    "name": series.name,
                    "x": [json_x(value) for value in series.x],
                    "y": [json_number(value) for value in series.y],
                    "partial": [series.is_partial(index) for index in range(len(series.x))],
                }
                for series in self.series
            ],
            "table": {"header": header, "rows": rows},
        }

    def table(self) -> tuple[list[str], list[list]]:
        """The header (x label, then one column per series) and one row per x value, in order of first appearance."""
        columns = [dict(zip(map(json_x, series.x), map(json_number, series.y), strict=True)) for series in self.series]
        xs = dict.fromkeys(json_x(value) for series in self.series for value in series.x)
        header = [self.x_label, *(series.name for series in self.series)]
        return header, [[x, *(column.get(x) for column in columns)] for x in xs]

    def partial_cells(self) -> set[tuple[str | float, int]]:
        """(x, series index) of the values still in progress, to mark them in the data table."""
        return {
            (json_x(value), column)
            for column, series in enumerate(self.series)
            for index, value in enumerate(series.x)
            if series.is_partial(index)
        }


def json_x(value) -> str | float | None:
    """An x value as JSON: dates and times in ISO form (aware times in the current time zone, as Plotly
    reads no offsets), numbers as numbers, anything else as text."""
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value).replace(tzinfo=None)
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "isoformat"):  # pandas Timestamp and the like
        return value.isoformat()
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return json_number(value)
    return None if value is None else str(value)


def json_number(value) -> float | int | None:
    """A value as a JSON number; None for missing values and NaN (which JSON cannot hold)."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(number) or math.isinf(number):
        return None
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else number


def format_number(value: float | None) -> str:
    """A table cell: thousands grouped, at most 2 decimals, no trailing zeros; "—" when missing."""
    if value is None:
        return "—"
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
