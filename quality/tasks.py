"""Background runs of an output's checks on the "checks" queue.

A task message carries ids and a slot only — never a URL or a credential. The slot is the
scheduled time the run belongs to: given by whoever enqueued it, or (for a beat-sent task)
the latest tick of the cron schedule at or before now, in UTC.

Reliability, so that a slot gets exactly one result however its message travels:

* The message is acknowledged after the run (``acks_late``, prefetch 1). A worker that dies
  mid-run has it delivered again (``reject_on_worker_lost``); so does a run killed at the hard
  time limit (``acks_on_timeout=False``), which stays below the broker's visibility timeout.
* Each delivery claims the slot's runs before any work (``CheckRun.take``): a finished run is
  skipped; a pending or running one is taken with a compare-and-swap on ``attempts``. Only the
  winner works, and only a delivery still holding the run may store its result. A run taken more
  than ``LODESTAR_CHECK_MAX_DELIVERIES`` times is recorded as an error without running.
* A source that cannot be reached is retried with backoff; the claims are released first, so the
  retry takes them again without counting as an interruption.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta

import duckdb
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.schedules import crontab
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from sqlalchemy.exc import SQLAlchemyError

from products.models import Output

from .choices import RunStatus
from .engine import OutputRun, Result, SourceError, error_message, open_source
from .models import Check, CheckRun, cron_schedule

logger = logging.getLogger(__name__)

QUEUE = "checks"
MAX_RETRIES = 3
# The soft limit stops a run the engine's own statement timeout did not; the hard limit (settings)
# kills it and stays below the broker's visibility timeout, so a running task is never handed to a
# second worker while it runs.
SOFT_TIME_LIMIT = settings.LODESTAR_CHECK_TIMEOUT_SECONDS + 30
HARD_TIME_LIMIT = settings.CHECK_TASK_HARD_TIME_LIMIT
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
    acks_on_timeout=False,  # killed at the hard time limit: requeued, and the next delivery takes over
    soft_time_limit=SOFT_TIME_LIMIT,
    time_limit=HARD_TIME_LIMIT,
    autoretry_for=(SourceUnavailable, DatabaseError),
    retry_backoff=5,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def run_output_checks(
    self,
    output_id: int,
    scheduled_for_iso: str | None = None,
    schedule: str | None = None,
    check_ids: list[int] | None = None,
) -> dict:
    """Run the output's enabled checks (only those on ``schedule``, or those of ``check_ids``, when given) for one slot.

    Returns ``{status: count}`` of the runs this delivery finished; a slot already finished, or
    taken by another delivery, is left alone.
    """
    output = Output.objects.filter(pk=output_id).first()
    if output is None:
        logger.info("Output %s is gone; nothing to check.", output_id)
        return {}
    slot = slot_for(scheduled_for_iso, schedule)
    checks = output.checks.filter(enabled=True).order_by("pk")
    if schedule:
        checks = checks.filter(schedule=schedule)
    if check_ids is not None:
        checks = checks.filter(pk__in=check_ids)
    taken = [run for run in (CheckRun.take(check, slot) for check in checks) if run is not None]
    held = [run for run in taken if run.status == RunStatus.RUNNING]
    finished = [run for run in taken if run.is_finished]  # given up after too many interruptions
    if held:
        finished += _work(self, output, held)
    return dict(Counter(run.status for run in finished))


def _work(task, output: Output, runs: list[CheckRun]) -> list[CheckRun]:
    """Run the held runs' checks and store the results; on the way out by an exception, give the runs back."""
    checks = [run.quality_check for run in runs]
    try:
        try:
            results = _results(task, output, checks)
        except SoftTimeLimitExceeded:
            message = f"The checks of this output ran past the time limit ({SOFT_TIME_LIMIT} s)."
            results = [Result(check, RunStatus.ERROR, error=message) for check in checks]
        return [run for run, result in zip(runs, results, strict=True) if run.finish(result)]
    except BaseException:
        _release(runs)
        raise


def _release(runs: list[CheckRun]) -> None:
    for run in runs:
        try:
            run.release()  # nothing for a run already finished
        except DatabaseError as exc:
            # Left running: the retry takes it over (counted as one interruption).
            logger.warning("Could not release %s: %s", run, exc)


def _results(task, output: Output, checks: list[Check]) -> list[Result]:
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


def enqueue_output_checks(
    output: Output, scheduled_for: datetime, schedule: str | None = None, checks: list[Check] | None = None
) -> None:
    """Queue a run of the output's checks (or of ``checks``) for ``scheduled_for`` once the transaction commits."""
    kwargs = {"output_id": output.pk, "scheduled_for_iso": scheduled_for.isoformat()}
    if schedule:
        kwargs["schedule"] = schedule
    if checks is not None:
        kwargs["check_ids"] = [check.pk for check in checks]
    transaction.on_commit(lambda: run_output_checks.apply_async(kwargs=kwargs, queue=QUEUE))
