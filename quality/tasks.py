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

And so that no run is lost when the broker is down:

* Sending never hangs or fails the caller: a bounded retry (about half a second), then the broker's
  error is logged and the run stays ``pending`` (``publish``).
* ``requeue_stale_runs`` (beat, every minute) sends again what was never delivered: pending runs
  older than ``STALE_PENDING_SECONDS``, one message per output and slot naming the checks, and
  running runs whose claim is older than the broker's visibility timeout plus the hard time limit
  (their delivery died and the broker did not hand the message back). It changes no row; the claims
  above make a run sent twice still get one result. Notifications never attempted go out again too
  (``alerts.requeue_pending``).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import duckdb
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.schedules import crontab
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from kombu.exceptions import OperationalError
from sqlalchemy.exc import SQLAlchemyError

from products.models import Output

from .choices import RunStatus
from .engine import OutputRun, Result, SourceError, error_message, open_source
from .models import Check, CheckRun, cron_schedule, now_slot

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

# Sending a message: three tries at most, 0 and 0.5 s apart, then give up (the sweeper sends it later).
PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
# What a broker that is down or unreachable raises (kombu wraps the transport's errors in OperationalError).
BROKER_ERRORS = (OperationalError, OSError)
# A pending run older than this was never delivered (or its message was lost): the sweeper sends it again.
STALE_PENDING_SECONDS = 120
# A running run claimed longer ago than this lost its delivery for good: any live delivery was killed at
# the hard time limit, and the broker hands an unacknowledged message back after its visibility timeout.
STUCK_RUNNING_SECONDS = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600) + HARD_TIME_LIMIT


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
    return previous_tick(cron_schedule(schedule), timezone.now()) if schedule else now_slot()


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


def publish(task, what: str, **options) -> bool:
    """Send ``task`` with a bounded retry; False, logged, when the broker cannot be reached.

    Never raises a broker error: called after a commit, in a web request or a worker, where the
    work is already recorded (a pending run, a pending notification) and the sweeper sends it later.
    """
    try:
        task.apply_async(retry=True, retry_policy=PUBLISH_RETRY_POLICY, **options)
    except BROKER_ERRORS as exc:
        logger.error(
            "Could not queue %s: the broker is unreachable (%s). It stays pending; "
            "requeue_stale_runs sends it again once the broker is back.",
            what,
            exc,
        )
        return False
    return True


def send_output_checks(
    output_id: int, slot: datetime, schedule: str | None = None, check_ids: list[int] | None = None
) -> bool:
    """Send a run of the output's checks for ``slot`` now; False (logged) when the broker is unreachable."""
    kwargs = {"output_id": output_id, "scheduled_for_iso": slot.isoformat()}
    if schedule:
        kwargs["schedule"] = schedule
    if check_ids is not None:
        kwargs["check_ids"] = list(check_ids)
    what = f"the run of output {output_id}'s checks for {kwargs['scheduled_for_iso']}"
    return publish(run_output_checks, what, kwargs=kwargs, queue=QUEUE)


def enqueue_output_checks(
    output: Output, scheduled_for: datetime, schedule: str | None = None, checks: list[Check] | None = None
) -> None:
    """Queue a run of the output's checks (or of ``checks``) for ``scheduled_for`` once the transaction commits.

    A broker that is down does not fail the caller: the error is logged and the sweeper sends it later.
    """
    check_ids = [check.pk for check in checks] if checks is not None else None
    transaction.on_commit(lambda: send_output_checks(output.pk, scheduled_for, schedule, check_ids))


# --- The sweeper -----------------------------------------------------------------------------


@shared_task  # beat sends it to the "celery" queue (CELERY_BEAT_SCHEDULE), not behind long check runs
def requeue_stale_runs(
    pending_after: float = STALE_PENDING_SECONDS, running_after: float = STUCK_RUNNING_SECONDS
) -> dict[str, int]:
    """Send again the runs whose message never came, and the notifications never attempted.

    Pending runs created more than ``pending_after`` seconds ago, and running runs claimed more than
    ``running_after`` seconds ago, of enabled checks: one message per output and slot, naming its
    checks. No row is changed: the delivery claims the runs as any other would (a running one as
    one whose delivery died), and a run already finished or held by another delivery is left alone.
    Stops at the first message the broker refuses: the next sweep tries again.
    """
    from . import alerts  # alerts imports this module

    now = timezone.now()
    stale = (
        CheckRun.objects.filter(quality_check__enabled=True)
        .filter(
            Q(status=RunStatus.PENDING, created__lt=now - timedelta(seconds=pending_after))
            | Q(status=RunStatus.RUNNING, started__lt=now - timedelta(seconds=running_after))
        )
        .order_by("scheduled_for", "quality_check_id")
        .values_list("quality_check__output_id", "scheduled_for", "quality_check_id")
    )
    groups: dict[tuple[int, datetime], list[int]] = defaultdict(list)
    for output_id, slot, check_id in stale:
        groups[(output_id, slot)].append(check_id)
    messages = runs = 0
    for (output_id, slot), check_ids in groups.items():
        if not send_output_checks(output_id, slot, check_ids=check_ids):
            break
        messages, runs = messages + 1, runs + len(check_ids)
    if groups:
        logger.warning("Sent %d stale runs again, in %d of %d messages.", runs, messages, len(groups))
    notifications = alerts.requeue_pending() if messages == len(groups) else 0
    return {"messages": messages, "runs": runs, "notifications": notifications}
