"""A product's health in one row, refreshed after every run and SLO evaluation.

failing: a check whose latest run failed, a breached SLO or an active incident;
warning: a latest run that warned or errored, or an SLO at risk;
healthy: something was measured and none of the above; unknown: nothing measured yet.
"""

from __future__ import annotations

from django.db.models import Subquery

from .choices import ACTIVE_INCIDENT_STATUSES, FINISHED_STATUSES, Health, RunStatus, SLOState
from .models import (
    Check,
    Incident,
    ProductHealth,
    newest_evaluations_of_outer_slo,
    newest_runs_of_outer_check,
)


def latest_statuses(product_id: int) -> list[str]:
    last_run = newest_runs_of_outer_check().filter(status__in=FINISHED_STATUSES)
    checks = Check.objects.filter(product_id=product_id, enabled=True)
    return [
        status
        for status in checks.annotate(last=Subquery(last_run.values("status")[:1])).values_list("last", flat=True)
        if status
    ]


def slo_states(product_id: int) -> list[str]:
    from products.models import SLO

    last = newest_evaluations_of_outer_slo().values("state")[:1]
    slos = SLO.objects.filter(product_id=product_id).annotate(state=Subquery(last))
    return [state for state in slos.values_list("state", flat=True) if state]


def refresh(product_id: int) -> ProductHealth:
    statuses = latest_statuses(product_id)
    states = slo_states(product_id)
    figures = {
        "failing_checks": statuses.count(RunStatus.FAIL),
        "warning_checks": statuses.count(RunStatus.WARN) + statuses.count(RunStatus.ERROR),
        "open_incidents": Incident.objects.filter(product_id=product_id, status__in=ACTIVE_INCIDENT_STATUSES).count(),
        "slos_breached": states.count(SLOState.BREACHED),
        "slos_at_risk": states.count(SLOState.AT_RISK),
    }
    measured = bool(statuses) or any(state != SLOState.UNKNOWN for state in states)
    health, _ = ProductHealth.objects.update_or_create(
        product_id=product_id, defaults={**figures, "state": overall(figures, measured)}
    )
    return health


def overall(figures: dict, measured: bool) -> str:
    if figures["failing_checks"] or figures["slos_breached"] or figures["open_incidents"]:
        return Health.FAILING
    if figures["warning_checks"] or figures["slos_at_risk"]:
        return Health.WARNING
    return Health.HEALTHY if measured else Health.UNKNOWN
