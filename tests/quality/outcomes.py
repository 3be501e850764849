"""Finished runs made by hand, for the tests of what follows a run (SLOs, incidents, health)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from quality import outcomes
from quality.models import CheckRun

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def finished_run(
    check, status: str, hours_ago: float = 0, now: datetime = NOW, observed: float | None = 1.0
) -> CheckRun:
    at = now - timedelta(hours=hours_ago)
    return CheckRun.objects.create(
        quality_check=check, scheduled_for=at, started=at, finished=at, status=status, observed_value=observed
    )


def run_and_follow(check, status: str, hours_ago: float = 0, now: datetime = NOW) -> CheckRun:
    """A finished run and what follows it, as ``CheckRun.finish`` would do."""
    run = finished_run(check, status, hours_ago, now)
    outcomes.after_run(run)
    return run
