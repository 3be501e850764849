"""KPI series in the background: on each KPI's cron schedule, on request, and after a change of definition.

Beat sends ``send_due_kpis`` every minute; it finds the KPIs whose cron fires this minute (grouped by
schedule, so ten thousand KPIs on a handful of schedules cost a handful of cron checks) and sends one
``compute_kpis`` per output, which opens the output's source once for all of them. A minute missed
(beat down, broker down) is not made up: the next tick computes the whole series again anyway.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter, defaultdict
from datetime import datetime

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from products import lifecycle
from products.choices import KPIStatus
from products.models import KPI
from utilities.cron import cron_schedule

from . import kpis
from .tasks import previous_tick, publish

logger = logging.getLogger(__name__)

QUEUE = "checks"  # data work, beside the check runs
# The fields a KPI's series is computed from: a change to one makes the stored points wrong.
CALCULATION_FIELDS = (
    "output_id",
    "aggregation",
    "column",
    "denominator_aggregation",
    "denominator_column",
    "filter",
    "time_column",
)


@functools.lru_cache(maxsize=1024)
def parsed(schedule: str):
    return cron_schedule(schedule)


def is_due(schedule: str, minute: datetime) -> bool:
    try:
        return previous_tick(parsed(schedule), minute) == minute
    except ValueError:  # a schedule that never fires
        return False


def computable():
    """KPIs with a calculation that may run: ``KPI.is_computable``, as a query."""
    return (
        KPI.objects.filter(status=KPIStatus.ACTIVE, output__isnull=False)
        .exclude(aggregation="")
        .exclude(time_column="")
    )


def due_kpis(minute: datetime) -> dict[int, list[int]]:
    """The KPIs whose schedule fires at ``minute``, by output."""
    schedules = computable().values_list("schedule", flat=True).distinct()
    due = [schedule for schedule in schedules if is_due(schedule, minute)]
    by_output: dict[int, list[int]] = defaultdict(list)
    for kpi_id, output_id in computable().filter(schedule__in=due).values_list("pk", "output_id"):
        by_output[output_id].append(kpi_id)
    return by_output


@shared_task(ignore_result=True)
def send_due_kpis() -> int:
    """Beat's minute tick: send the computation of every KPI due now; returns how many KPIs were sent."""
    minute = timezone.now().replace(second=0, microsecond=0)
    sent = 0
    for kpi_ids in due_kpis(minute).values():
        if send_compute(kpi_ids):
            sent += len(kpi_ids)
    return sent


def send_compute(kpi_ids: list[int], trigger: str = "schedule", user_id: int | None = None) -> bool:
    """Send one computation of these KPIs (of one output); False, logged, when the broker is unreachable."""
    kwargs = {"kpi_ids": sorted(kpi_ids), "trigger": trigger, "user_id": user_id}
    return publish(compute_kpis, f"KPIs {kpi_ids}", kwargs=kwargs, queue=QUEUE)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.LODESTAR_CHECK_TIMEOUT_SECONDS + 30,
    time_limit=settings.CHECK_TASK_HARD_TIME_LIMIT,
    autoretry_for=(DatabaseError,),
    retry_backoff=5,
    max_retries=3,
)
def compute_kpis(kpi_ids: list[int], trigger: str = "schedule", user_id: int | None = None) -> dict:
    """Compute these KPIs' series; returns ``{status: count}`` of the runs."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    chosen = computable().filter(pk__in=kpi_ids).select_related("output", "output__connection", "product")
    runs = kpis.compute_many(list(chosen), trigger=trigger, user=user)
    return dict(Counter(run.status for run in runs))


# --- A change of definition ----------------------------------------------------------------


def on_kpi_loaded(sender, instance: KPI, **kwargs) -> None:
    instance._calculation = calculation_of(instance)
    instance._status = instance.status


def calculation_of(kpi: KPI) -> tuple:
    return tuple(getattr(kpi, name) for name in CALCULATION_FIELDS) + (tuple(kpi.dimensions or []),)


def on_kpi_saved(sender, instance: KPI, created: bool, raw: bool = False, **kwargs) -> None:
    """A new or changed calculation: drop the points of the old one and compute the new one after the commit."""
    if raw:
        return
    was, instance._status = getattr(instance, "_status", None), instance.status
    if not created and was == KPIStatus.ACTIVE and instance.status == KPIStatus.DEPRECATED:
        lifecycle.notify_kpi_deprecated(instance)
    before = getattr(instance, "_calculation", None)
    now = calculation_of(instance)
    instance._calculation = now
    if not created and before == now:
        return
    if not created:
        instance.points.all().delete()
    if instance.is_computable:
        transaction.on_commit(lambda: send_compute([instance.pk], trigger="change"), robust=True)
