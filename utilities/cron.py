"""Cron expressions as the hub's schedules use them: five fields, in UTC, as Celery's ``crontab`` reads them."""

from __future__ import annotations

import functools
import re

from celery.schedules import ParseException, crontab
from django.core.exceptions import ValidationError

CRON_PART = re.compile(r"[0-9A-Za-z*/,-]+")
CRON_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")


def validate_cron(value: str) -> None:
    """Five cron fields that Celery's ``crontab`` accepts; an error names the field."""
    problem = cron_problem(value)
    if problem:
        raise ValidationError(problem)


@functools.lru_cache(maxsize=1024)
def cron_problem(value: str) -> str:
    """What is wrong with a cron expression, or "": remembered, as parsing one takes Celery about a millisecond."""
    try:
        check_cron(value)
    except ValidationError as exc:
        return exc.messages[0]
    return ""


def check_cron(value: str) -> None:
    parts = value.split()
    if len(parts) != len(CRON_FIELDS):
        raise ValidationError(f"A cron schedule has 5 fields ({' '.join(CRON_FIELDS)}), not {len(parts)}.")
    for name, part in zip(CRON_FIELDS, parts, strict=True):
        if not CRON_PART.fullmatch(part):  # ASCII only: Python's int() would take other scripts' digits
            raise ValidationError(f"{name} {part!r} may hold only digits, letters, '*', '/', ',' and '-'.")
        try:
            crontab(**{name: part})
        except (ValueError, TypeError, ParseException) as exc:
            raise ValidationError(f"{name} {part!r} is not valid: {exc}") from None


def cron_schedule(value: str) -> crontab:
    return crontab(**dict(zip(CRON_FIELDS, value.split(), strict=True)))
