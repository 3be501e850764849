"""Incidents: opened by a failing fail-severity check, a breached SLO or a KPI out of bounds; one active per subject.

Repeated failures attach to the active incident; stewards acknowledge and resolve it (with a
reason); a passing run, or an SLO met again, resolves it when the product says so. Owners and
stewards hear of state changes only: an incident opened or resolved, an SLO changing state.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from access import policy

from . import health
from .choices import ACTIVE_INCIDENT_STATUSES, IncidentEventKind, IncidentStatus, RunStatus, Severity, SLOState
from .models import CheckRun, Incident, IncidentEvent, SLOEvaluation


def active_incident(**subject) -> Incident | None:
    return Incident.objects.select_for_update().filter(status__in=ACTIVE_INCIDENT_STATUSES, **subject).first()


@transaction.atomic
def open_or_attach(product, title: str, subject: dict, **event) -> tuple[Incident, bool]:
    """The subject's active incident with this failure attached, or a new one; True when new.

    Two workers failing the same check at once both try to create; the partial unique
    constraint lets one in, and the other attaches to it.
    """
    now = timezone.now()
    incident = active_incident(**subject)
    if incident is None:
        try:
            with transaction.atomic():
                incident = Incident.objects.create(
                    product=product, title=title, opened_at=now, last_seen_at=now, **subject
                )
        except IntegrityError:
            incident = active_incident(**subject)
        else:
            IncidentEvent.objects.create(incident=incident, kind=IncidentEventKind.OPENED, at=now, **event)
            return incident, True
    incident.occurrences += 1
    incident.last_seen_at = now
    incident.save(update_fields=["occurrences", "last_seen_at"])
    IncidentEvent.objects.create(incident=incident, kind=IncidentEventKind.FAILED_AGAIN, at=now, **event)
    return incident, False


def record_run(run: CheckRun) -> None:
    """Act on a finished run: a failure opens or joins an incident, a pass may resolve one."""
    check = run.quality_check
    if run.status == RunStatus.FAIL and check.severity == Severity.FAIL:
        title = f"Check failed: {check.name} on {check.output.name}"
        incident, opened = open_or_attach(check.product, title, {"quality_check": check}, run=run)
        if opened:
            announce(incident, "incident_opened", run_summary(run))
    elif run.status == RunStatus.PASS and check.product.auto_resolve_incidents:
        with transaction.atomic():
            incident = active_incident(quality_check=check)
            if incident is not None:
                close(incident, None, "A later run passed.", IncidentEventKind.AUTO_RESOLVED, run=run)


def slo_state_changed(slo, previous_state: str | None, evaluation: SLOEvaluation) -> None:
    """Called inside the evaluation's transaction when the SLO's state differs from the last one."""
    if evaluation.state == SLOState.BREACHED:
        title = f"SLO breached: {slo.name}"
        incident, opened = open_or_attach(slo.product, title, {"slo": slo}, evaluation=evaluation)
        if opened:
            announce(incident, "incident_opened", evaluation_summary(evaluation))
            return
    elif previous_state == SLOState.BREACHED and slo.product.auto_resolve_incidents:
        incident = active_incident(slo=slo)
        if incident is not None:
            close(
                incident,
                None,
                f"The SLO is {evaluation.get_state_display().lower()} again.",
                IncidentEventKind.AUTO_RESOLVED,
                evaluation=evaluation,
            )
            return
    # The first evaluation is a baseline, and a first measurement that meets the SLO is no news.
    if previous_state is not None and (previous_state, evaluation.state) != (SLOState.UNKNOWN, SLOState.MET):
        alert(
            slo.product,
            "slo_state_changed",
            f"SLO {slo.name}: {previous_state} → {evaluation.state}",
            {
                "slo": {"id": slo.pk, "name": slo.name},
                "previous_state": previous_state,
                **evaluation_summary(evaluation),
            },
        )


def acknowledge(incident: Incident, user, note: str = "") -> Incident:
    """Someone is on it. Only an open incident can be acknowledged."""
    policy.require(user, policy.CHANGE, incident)
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        if incident.status != IncidentStatus.OPEN:
            raise ValidationError({"status": f"The incident is {incident.get_status_display().lower()}, not open."})
        incident.status = IncidentStatus.ACKNOWLEDGED
        incident.acknowledged_at = timezone.now()
        incident.acknowledged_by = user
        incident.save(update_fields=["status", "acknowledged_at", "acknowledged_by"])
        IncidentEvent.objects.create(incident=incident, kind=IncidentEventKind.ACKNOWLEDGED, user=user, note=note)
    return incident


def resolve(incident: Incident, user, reason: str) -> Incident:
    """Close the incident; the reason is required and kept."""
    policy.require(user, policy.CHANGE, incident)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"resolution": "Say why the incident is resolved."})
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=incident.pk)
        if not incident.is_active:
            raise ValidationError({"status": "The incident is already resolved."})
        close(incident, user, reason, IncidentEventKind.RESOLVED)
        health.refresh(incident.product_id)
    return incident


def close(incident: Incident, user, reason: str, kind: str, **event) -> None:
    incident.status = IncidentStatus.RESOLVED
    incident.resolved_at = timezone.now()
    incident.resolved_by = user
    incident.resolution = reason
    incident.save(update_fields=["status", "resolved_at", "resolved_by", "resolution"])
    IncidentEvent.objects.create(incident=incident, kind=kind, user=user, note=reason, **event)
    announce(
        incident, "incident_resolved", {"resolution": reason, "resolved_by": user.get_username() if user else None}
    )


def announce(incident: Incident, event: str, data: dict) -> None:
    verb = "opened" if event == "incident_opened" else "resolved"
    alert(incident.product, event, f"Incident {verb}: {incident.title}", data, incident=incident)


def alert(product, event: str, subject: str, data: dict, incident: Incident | None = None) -> None:
    from . import alerts  # alerts imports the models this module writes

    body = "\n".join([subject, "", *(body_line(key, value) for key, value in data.items())])
    alerts.notify(product, event, subject, body, data, incident=incident)


def body_line(key: str, value) -> str:
    if isinstance(value, list):  # e.g. a KPI's counter-metrics: one item a line
        items = [", ".join(f"{k}: {v}" for k, v in item.items()) if isinstance(item, dict) else item for item in value]
        return "\n".join([f"{key}:", *(f"  - {item}" for item in items)] if items else [f"{key}: none"])
    return f"{key}: {value}"


def run_summary(run: CheckRun) -> dict:
    # Samples stay out: an alert is read by people and systems that may not see the rows.
    return {
        "check": run.quality_check.name,
        "output": run.quality_check.output.name,
        "status": run.status,
        "observed_value": run.observed_value,
        "threshold": run.quality_check.threshold_display,
        "scheduled_for": run.scheduled_for.isoformat(),
    }


def evaluation_summary(evaluation: SLOEvaluation) -> dict:
    return {
        "state": evaluation.state,
        "compliance_percent": evaluation.compliance_percent,
        "objective_percent": float(evaluation.slo.objective_percent),
        "budget_remaining_percent": evaluation.budget_remaining_percent,
        "burn_rate": evaluation.burn_rate,
    }
