"""Dynamic baselines for KPI alerts: the median ± k·MAD of earlier comparable periods.

Pure arithmetic on ``(period_start, value)`` pairs; no models. The median and the median absolute
deviation (MAD) are robust: one past outlier (a holiday, an outage) neither moves the centre nor
widens the band much, as a mean and a standard deviation would. Daily series are compared with the
same weekday of earlier weeks, so a Monday spike that happens every Monday is no alert.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, timedelta

from utilities.periods import DAY, previous_period

MAD_SCALE = 1.4826  # MAD × this estimates the standard deviation of normally distributed data
MIN_HISTORY = 3
# A flat history has no spread: this floor (relative to the median, never below an absolute epsilon)
# lets a real move alert without float noise doing so.
FLAT_FLOOR_SHARE = 0.01
FLAT_FLOOR_MIN = 1e-9

OK, BREACH, UNKNOWN = "ok", "breach", "unknown"


@dataclass(frozen=True)
class Band:
    median: float
    mad: float  # scaled to a standard deviation, and floored for a flat history
    low: float
    high: float
    k: float
    n: int  # how many values it was learnt from


def earlier(period: date, grain: str) -> date:
    """The comparable period before ``period``: a week back for days (same weekday), else the previous one."""
    if grain == DAY:
        return period - timedelta(days=7)
    return previous_period(period, grain)


def comparable_history(points: list[tuple[date, float | None]], period: date, grain: str, count: int) -> list[float]:
    """The values of up to ``count`` earlier comparable periods, most recent first.

    Missing periods and empty values are skipped and do not count, but the search stops after
    ``count * 2`` steps back, so a sparse series learns from recent periods only.
    """
    values = dict(points)
    history: list[float] = []
    current = period
    for _ in range(count * 2):
        if len(history) >= count:
            break
        current = earlier(current, grain)
        value = values.get(current)
        if value is not None:
            history.append(float(value))
    return history


def band(history: list[float], k: float) -> Band | None:
    """The band ``median ± k·MAD`` of ``history``; None when it holds fewer than three values."""
    if len(history) < MIN_HISTORY:
        return None
    median = statistics.median(history)
    mad = statistics.median(abs(value - median) for value in history) * MAD_SCALE
    if mad == 0:
        mad = max(FLAT_FLOOR_MIN, FLAT_FLOOR_SHARE * abs(median))
    return Band(median=median, mad=mad, low=median - k * mad, high=median + k * mad, k=k, n=len(history))


def verdict(value: float | None, band: Band | None) -> str:
    """ok inside the band (bounds included), breach outside it, unknown without a value or a band."""
    if value is None or band is None:
        return UNKNOWN
    return BREACH if value < band.low or value > band.high else OK
