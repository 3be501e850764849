"""Background runs of an output's checks on the "checks" queue.

A task message carries ids and a slot only — never a URL or a credential. The slot is the
scheduled time the run belongs to: given by whoever enqueued it, or (for a beat-sent task)
the latest tick of the cron schedule at or before now. ``CheckRun`` has one row per check and
slot, so a task delivered twice finds the slot taken (or finished) and records nothing new.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import duckdb
from celery import shared_task
from celery.schedules import crontab
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from sqlalchemy.exc import SQLAlchemyError

from products.models import Output

from .choices import RunStatus
from .engine import OutputRun, Result, SourceError, error_message, open_source, record_results
from .models import CheckRun, cron_schedule

logger = logging.getLogger(__name__)

QUEUE = "checks"
MAX_RETRIES = 3
# The hard limit stops a run the engine's own statement timeout did not; both stay below the
# broker's visibility timeout (settings), so a running task is never handed to a second worker.
SOFT_TIME_LIMIT = settings.LODESTAR_CHECK_TIMEOUT_SECONDS + 30
HARD_TIME_LIMIT = SOFT_TIME_LIMIT + 30
# The output's data could not be reached: worth another try later. Errors of the hub's own
# database (a lock, a dropped connection) retry the same way.
TRANSIENT_ERRORS = (SourceError, duckdb.Error, SQLAlchemyError, OSError)  # as the engine catches them


class SourceUnavailable(Exception):
    """Opening the output's source failed with a transient error; the task is retried."""


def previous_tick(schedule: crontab, now: datetime) -> datetime:
    """The latest minute at or before ``now`` (UTC) that the cron schedule fires on (Celery's AND semantics)."""
    moment = now.astimezone(UTC).replace(second=0, microsecond=0)
    for _ in range(60 * 24 * 366 * 5):  # bounded: steps are days, hours or minutes
        cron_weekday = (moment.weekday() + 1) % 7  # cron: 0 is Sunday
        if (
            moment.month not in schedule.month_of_year
            or moment.day not in schedule.day_of_month
            or cron_weekday not in schedule.day_of_week
        ):
            moment = moment.replace(hour=0, minute=0) - timedelta(minutes=1)
        elif moment.hour not in schedule.hour:
            moment = moment.replace(minute=0) - timedelta(minutes=1)
        elif moment.minute not in schedule.minute:
            moment -= timedelta(minutes=1)
        else:
            return moment
    raise ValueError(f"The schedule {schedule} never fires.")


def slot_for(scheduled_for_iso: str | None, schedule: str | None) -> datetime:
    if scheduled_for_iso:
        slot = parse_datetime(scheduled_for_iso)
        if slot is None:
            raise ValueError(f"Not an ISO date and time: {scheduled_for_iso!r}")
        return slot if timezone.is_aware(slot) else timezone.make_aware(slot, UTC)
    now = timezone.now()
    return previous_tick(cron_schedule(schedule), now) if schedule else now.replace(microsecond=0)


@shared_task(
    bind=True,  # routed to the "checks" queue by CELERY_TASK_ROUTES
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=SOFT_TIME_LIMIT,
    time_limit=HARD_TIME_LIMIT,
    autoretry_for=(SourceUnavailable, DatabaseError),
    retry_backoff=5,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def run_output_checks(self, output_id: int, scheduled_for_iso: str | None = None, schedule: str | None = None) -> dict:
    """Run the output's enabled checks (only those on ``schedule``, when given) for one slot.

    Returns ``{status: count}`` of the runs recorded for the slot; a slot already finished is left alone.
    """
    output = Output.objects.filter(pk=output_id).first()
    if output is None:
        logger.info("Output %s is gone; nothing to check.", output_id)
        return {}
    slot = slot_for(scheduled_for_iso, schedule)
    checks = output.checks.filter(enabled=True)
    if schedule:
        checks = checks.filter(schedule=schedule)
    # Skip checks whose slot is already taken: a redelivered task does no work twice.
    taken = CheckRun.objects.filter(scheduled_for=slot).exclude(status=RunStatus.PENDING).values("quality_check")
    checks = list(checks.exclude(pk__in=taken))
    if not checks:
        return {}
    results = _results(self, output, checks)
    runs = record_results(results, slot)
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.status] = counts.get(run.status, 0) + 1
    return counts


def _results(task, output: Output, checks: list) -> list[Result]:
    """One pass over the output's source; a source that stays unreachable after the retries gives ``error``."""
    try:
        source = open_source(output)
    except TRANSIENT_ERRORS as exc:
        retries = task.request.retries or 0
        if not task.request.called_directly and retries < MAX_RETRIES:
            logger.warning("Cannot reach %s (attempt %d): %s", output, retries + 1, exc)
            raise SourceUnavailable(error_message(exc)) from exc
        return [Result(check, RunStatus.ERROR, error=error_message(exc)) for check in checks]
    try:
        return OutputRun(output, checks, source).results()
    finally:
        source.close()


def enqueue_output_checks(output: Output, scheduled_for: datetime, schedule: str | None = None) -> None:
    """Queue a run of the output's checks for ``scheduled_for`` once the current transaction commits."""
    kwargs = {"output_id": output.pk, "scheduled_for_iso": scheduled_for.isoformat()}
    if schedule:
        kwargs["schedule"] = schedule
    transaction.on_commit(lambda: run_output_checks.apply_async(kwargs=kwargs, queue=QUEUE))
