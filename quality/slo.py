"""SLOs measured from the runs of the checks that measure them.

Each finished run of such a check within the SLO's window is one measurement: ``pass`` is good,
``warn`` and ``fail`` are bad, ``error`` is not a measurement (the data could not be read, so
nothing is known about it) and is only counted. With no good or bad measurement the state is
``unknown`` and the figures stay empty: never a made-up number.

- compliance: good / (good + bad), in percent, over the window;
- error budget left: the share of the allowed bad measurements (100 - objective) not yet spent,
  negative once overspent;
- burn rate: the bad share of the last ``BURN_WINDOW`` over the allowed share; 1 spends the budget
  exactly over the window, above 1 faster;
- state: breached below the objective; at risk when less than a quarter of the budget is left
  or the budget burns at ``FAST_BURN`` times the sustainable rate or more; met otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import shared_task
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from products.models import SLO
from utilities.batches import batched

from .choices import RunStatus, SLOState
from .models import CheckRun, SLOEvaluation

BURN_WINDOW = timedelta(hours=24)
FAST_BURN = 2.0
LOW_BUDGET_PERCENT = 25.0
BAD_STATUSES = (RunStatus.WARN, RunStatus.FAIL)


@dataclass(frozen=True)
class Tally:
    good: int = 0
    bad: int = 0
    errors: int = 0

    @property
    def measured(self) -> int:
        return self.good + self.bad

    @property
    def bad_share(self) -> float | None:
        return self.bad / self.measured if self.measured else None


def tally(slo: SLO, since: datetime, until: datetime) -> Tally:
    counts = CheckRun.objects.filter(
        quality_check__slos=slo, scheduled_for__gt=since, scheduled_for__lte=until
    ).aggregate(
        good=Count("pk", filter=Q(status=RunStatus.PASS)),
        bad=Count("pk", filter=Q(status__in=BAD_STATUSES)),
        errors=Count("pk", filter=Q(status=RunStatus.ERROR)),
    )
    return Tally(**counts)


def measure(slo: SLO, now: datetime) -> SLOEvaluation:
    """The SLO's figures at ``now``, not saved."""
    window_start = now - timedelta(days=slo.window_days)
    window = tally(slo, window_start, now)
    evaluation = SLOEvaluation(
        slo=slo, evaluated_at=now, window_start=window_start, good=window.good, bad=window.bad, errors=window.errors
    )
    if not window.measured:
        return evaluation  # unknown: no figures
    allowed_share = (100 - float(slo.objective_percent)) / 100
    evaluation.compliance_percent = round(100 * window.good / window.measured, 4)
    if allowed_share > 0:
        evaluation.budget_remaining_percent = round(100 * (1 - window.bad_share / allowed_share), 4)
        recent = tally(slo, max(window_start, now - BURN_WINDOW), now)
        if recent.measured:
            evaluation.burn_rate = round(recent.bad_share / allowed_share, 4)
    evaluation.state = state_of(evaluation, float(slo.objective_percent))
    return evaluation


def state_of(evaluation: SLOEvaluation, objective_percent: float) -> str:
    if evaluation.compliance_percent is None:
        return SLOState.UNKNOWN
    if evaluation.compliance_percent < objective_percent:
        return SLOState.BREACHED
    low_budget = (
        evaluation.budget_remaining_percent is not None and evaluation.budget_remaining_percent < LOW_BUDGET_PERCENT
    )
    fast_burn = evaluation.burn_rate is not None and evaluation.burn_rate >= FAST_BURN
    return SLOState.AT_RISK if low_budget or fast_burn else SLOState.MET


def latest(slo: SLO) -> SLOEvaluation | None:
    return slo.evaluations.order_by(*SLOEvaluation._meta.ordering).first()


@transaction.atomic
def evaluate(slo: SLO, now: datetime | None = None) -> SLOEvaluation:
    """Measure the SLO now, keep the figures as history, and act on a change of state."""
    from . import incidents  # incidents imports this module's states

    previous = latest(slo)
    evaluation = measure(slo, now or timezone.now())
    evaluation.save()
    if previous is None or previous.state != evaluation.state:
        incidents.slo_state_changed(slo, previous.state if previous else None, evaluation)
    return evaluation


@shared_task
def evaluate_all_slos() -> int:
    """Re-measure every SLO measured by checks: windows slide even when no run finishes."""
    from . import health

    slos = SLO.objects.filter(checks__isnull=False).distinct()
    for slo in slos:
        evaluate(slo)
    for product_id in {slo.product_id for slo in slos}:  # once per product, after all its SLOs
        health.refresh(product_id)
    return len(slos)


# History thins out with age: every evaluation for a week, the last of each hour for 90 days, then
# the last of each day. Trend charts read no finer than that, and the table stays bounded.
KEEP_ALL_FOR = timedelta(days=7)
KEEP_HOURLY_FOR = timedelta(days=90)


def bucket(moment: datetime, now: datetime) -> tuple:
    """The period an evaluation stands for once thinned: its hour, or its day when older."""
    if now - moment > KEEP_HOURLY_FOR:
        return (moment.date(),)
    return (moment.date(), moment.hour)


def thin_history(slo: SLO, now: datetime) -> int:
    """Delete the evaluations older than a week that are not the last of their hour (or day); the count deleted."""
    older = slo.evaluations.filter(evaluated_at__lt=now - KEEP_ALL_FOR).order_by(*SLOEvaluation._meta.ordering)
    kept: set[tuple] = set()
    doomed = []
    for pk, evaluated_at in older.values_list("pk", "evaluated_at").iterator():
        period = bucket(evaluated_at, now)
        if period in kept:
            doomed.append(pk)
        else:
            kept.add(period)  # the newest of its period, met first in this order
    for batch in batched(doomed, 1000):
        SLOEvaluation.objects.filter(pk__in=batch).delete()
    return len(doomed)


@shared_task
def prune_slo_history() -> int:
    """Thin every SLO's evaluation history (daily, by beat); the count deleted."""
    now = timezone.now()
    return sum(
        thin_history(slo, now)
        for slo in SLO.objects.filter(evaluations__evaluated_at__lt=now - KEEP_ALL_FOR).distinct()
    )
