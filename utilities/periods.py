"""Calendar periods of a time series: day, week (ISO, from Monday), month, quarter and year."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY, WEEK, MONTH, QUARTER, YEAR = "day", "week", "month", "quarter", "year"
MONTHS_IN = {MONTH: 1, QUARTER: 3, YEAR: 12}


def period_start(day: date, grain: str) -> date:
    """The first day of the ``grain`` period holding ``day``."""
    if grain == DAY:
        return day
    if grain == WEEK:
        return day - timedelta(days=day.weekday())
    if grain == MONTH:
        return day.replace(day=1)
    if grain == QUARTER:
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    if grain == YEAR:
        return day.replace(month=1, day=1)
    raise ValueError(f"Unknown grain {grain!r}.")


def next_period(start: date, grain: str) -> date:
    """The first day of the period after the one starting on ``start``."""
    if grain == DAY:
        return start + timedelta(days=1)
    if grain == WEEK:
        return start + timedelta(days=7)
    month = start.month - 1 + MONTHS_IN[grain]
    return date(start.year + month // 12, month % 12 + 1, 1)


def previous_period(start: date, grain: str) -> date:
    """The first day of the period before the one starting on ``start``."""
    return period_start(start - timedelta(days=1), grain)


def periods_back(start: date, grain: str, count: int) -> date:
    """The first day of the earliest of ``count`` periods that end with the one starting on ``start``."""
    for _ in range(count - 1):
        start = previous_period(start, grain)
    return start


def periods_between(first: date, last: date, grain: str) -> list[date]:
    """Every period start of ``grain`` from the period holding ``first`` to the one holding ``last``."""
    starts, current = [], period_start(first, grain)
    while current <= last:
        starts.append(current)
        current = next_period(current, grain)
    return starts


@functools.lru_cache(maxsize=64)
def zone_named(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_date(value, zone: str) -> date | None:
    """The calendar day of ``value`` in the time zone ``zone``.

    A date is a day as it stands; an aware timestamp is converted; a naive one is taken as UTC. Text is read
    as ISO 8601. Anything else (or an unknown zone) gives None.
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            return None
    if isinstance(value, datetime):
        try:
            target = zone_named(zone)
        except (ZoneInfoNotFoundError, ValueError):
            return None
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(target).date()
    if isinstance(value, date):
        return value
    return None
