"""KPI alerts: after each computation, the KPI's latest complete period against its alert rule.

A static rule has fixed bounds; a baseline rule learns a band (``quality.baselines``) from earlier
comparable periods — the same weekday for a daily KPI — and only a move the wrong way is a breach:
a drop for a KPI where higher is better, a rise where lower is. The verdict is kept on the run; a
breach opens or joins the KPI's incident and is announced as a failing check's would be, with the
counter-metrics' latest values beside it; a verdict of ok resolves the incident when the product
lets incidents resolve themselves. Registered in ``quality.kpis.AFTER_COMPUTE`` (``QualityConfig.ready``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import transaction

from products.choices import AlertRule, Direction, KPIStatus
from products.models import KPI
from utilities.periods import DAY, MONTH, QUARTER, WEEK

from . import baselines, health, incidents
from .choices import IncidentEventKind, KPIAlertState
from .models import KPIPoint, KPIRun


@dataclass
class Verdict:
    state: str
    detail: dict
    breach: str = ""  # how the value breaks its bounds, e.g. "276,302 < 290,000"


def evaluate_run(run: KPIRun) -> None:
    """Judge the KPI's latest complete period, record it on ``run`` and open or resolve its incident."""
    kpi = run.kpi
    if not kpi.alert_rule or kpi.status == KPIStatus.DEPRECATED:
        return
    with transaction.atomic():
        previous = last_verdict(run)
        verdict = evaluate(kpi)
        run.alert_state, run.alert_detail = verdict.state, verdict.detail
        run.save(update_fields=["alert_state", "alert_detail"])
        if verdict.state == KPIAlertState.BREACH and not already_alerted(previous, verdict):
            open_incident(kpi, verdict)
        elif verdict.state == KPIAlertState.OK and kpi.product.auto_resolve_incidents:
            resolve_incident(kpi, verdict)


# --- The verdict -----------------------------------------------------------------------------


def total_series(kpi: KPI, grain: str) -> list[tuple[date, float | None]]:
    """The KPI's complete periods of ``grain`` for the total, oldest first."""
    points = KPIPoint.objects.filter(kpi=kpi, grain=grain, dimension="", member="", partial=False)
    return list(points.order_by("period_start").values_list("period_start", "value"))


def evaluate(kpi: KPI) -> Verdict:
    grain = kpi.grain or DAY
    series = total_series(kpi, grain)
    detail = {
        "rule": kpi.alert_rule,
        "grain": grain,
        "direction": kpi.direction,
        "period": None,
        "value": None,
        "low": None,
        "high": None,
        "median": None,
        "counter_metrics": counter_values(kpi),
    }
    if not series:
        return Verdict(KPIAlertState.UNKNOWN, detail)
    period, value = series[-1]
    detail.update(period=period.isoformat(), period_label=period_label(period, grain), value=value)
    if kpi.alert_rule == AlertRule.STATIC:
        detail.update(low=kpi.alert_min, high=kpi.alert_max)
        return judge(value, kpi.alert_min, kpi.alert_max, detail)
    history = baselines.comparable_history(series, period, grain, kpi.baseline_periods)
    band = baselines.band(history, kpi.baseline_k)
    if band is None:
        return Verdict(KPIAlertState.UNKNOWN, detail)
    detail.update(low=band.low, high=band.high, median=band.median, mad=band.mad, k=band.k, history=band.n)
    # Only a move the wrong way is news: above the band is good news where higher is better, and so on.
    if kpi.direction == Direction.DOWN:
        return judge(value, None, band.high, detail)
    return judge(value, band.low, None, detail)


def judge(value: float | None, low: float | None, high: float | None, detail: dict) -> Verdict:
    if value is None:
        return Verdict(KPIAlertState.UNKNOWN, detail)
    if low is not None and value < low:
        return Verdict(KPIAlertState.BREACH, detail, f"{number(value)} < {number(low)}")
    if high is not None and value > high:
        return Verdict(KPIAlertState.BREACH, detail, f"{number(value)} > {number(high)}")
    return Verdict(KPIAlertState.OK, detail)


def counter_values(kpi: KPI) -> list[dict]:
    """Each counter-metric's latest complete total, at its own grain: what a gain here may have cost."""
    values = []
    for counter in kpi.counter_metrics.order_by("name"):
        series = total_series(counter, counter.grain or DAY)
        period, value = series[-1] if series else (None, None)
        values.append({"name": counter.name, "value": value, "period": period.isoformat() if period else None})
    return values


# --- Incidents -------------------------------------------------------------------------------


def last_verdict(run: KPIRun) -> KPIRun | None:
    """The KPI's previous run that gave a verdict: an unknown in between (no history for a while) does not count."""
    earlier = KPIRun.objects.filter(kpi_id=run.kpi_id).exclude(pk=run.pk)
    earlier = earlier.exclude(alert_state__in=["", KPIAlertState.UNKNOWN])
    return earlier.order_by("-started_at", "-id").first()


def already_alerted(previous: KPIRun | None, verdict: Verdict) -> bool:
    """Was this very breach (same period, same rule) alerted on by the previous run? Then it adds nothing."""
    if previous is None or previous.alert_state != KPIAlertState.BREACH:
        return False
    before = previous.alert_detail or {}
    return (before.get("period"), before.get("rule")) == (verdict.detail["period"], verdict.detail["rule"])


def open_incident(kpi: KPI, verdict: Verdict) -> None:
    label = verdict.detail["period_label"]
    title = f"KPI out of band: {kpi.name} ({label}) {verdict.breach}"[:300]
    note = f"{label}: {verdict.breach} ({kpi.get_alert_rule_display().lower()})."
    incident, opened = incidents.open_or_attach(kpi.product, title, {"kpi": kpi}, note=note)
    if opened:
        incidents.announce(incident, "incident_opened", summary(kpi, verdict))
    health.refresh(kpi.product_id)


def resolve_incident(kpi: KPI, verdict: Verdict) -> None:
    incident = incidents.active_incident(kpi=kpi)
    if incident is None:
        return
    detail = verdict.detail
    reason = f"{kpi.name} is within bounds again: {number(detail['value'])} in {detail['period_label']}."
    incidents.close(incident, None, reason, IncidentEventKind.AUTO_RESOLVED)
    health.refresh(kpi.product_id)


def summary(kpi: KPI, verdict: Verdict) -> dict:
    """What an alert says: the KPI, its period and value, the bounds, and the counter-metrics beside it."""
    detail = verdict.detail
    return {
        "kpi": kpi.name,
        "period": detail["period"],
        "value": detail["value"],
        "breach": verdict.breach,
        "rule": detail["rule"],
        "low": detail["low"],
        "high": detail["high"],
        "median": detail["median"],
        "direction": detail["direction"],
        "unit": kpi.unit,
        "counter_metrics": detail["counter_metrics"],
    }


# --- Words -----------------------------------------------------------------------------------


def period_label(start: date, grain: str) -> str:
    if grain == WEEK:
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if grain == MONTH:
        return f"{start:%Y-%m}"
    if grain == QUARTER:
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    if grain == DAY:
        return start.isoformat()
    return str(start.year)


def number(value: float) -> str:
    """Thousands grouped and no decimals for large values; four significant digits for small ones."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.4g}"
