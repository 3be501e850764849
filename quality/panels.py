"""The Quality panel on the product page: each check's latest result and history, SLO gauges, open incidents.

Registered from ``QualityConfig.ready()`` (``products`` never imports ``quality``). Everything is read
in a constant number of queries, however many checks, runs or evaluations there are: one query for
the checks, one for the last ``HISTORY`` runs of all of them (a window function), one for the last
``TREND`` evaluations of all SLOs, one for the open incidents and one for the product's health.
Charts are drawn server-side as inline SVG, with no inline styles (the CSP has none) and no script.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber
from django.http import HttpRequest
from django.urls import reverse

from access import policy
from products.models import SLO, DataProduct, Output

from .choices import ACTIVE_INCIDENT_STATUSES, FINISHED_STATUSES, RunStatus, SLOState
from .models import Check, CheckRun, Incident, ProductHealth, SLOEvaluation

HISTORY = 30  # runs per check in the history strip
TREND = 20  # evaluations per SLO in the compliance trend
NEVER_RUN = "never"

# Badge tones (lodestar.css ``badge--*``, quality.css ``badge--error``) by run status, SLO state and health.
TONES = {
    RunStatus.PASS: "success",
    RunStatus.WARN: "warning",
    RunStatus.FAIL: "danger",
    RunStatus.ERROR: "error",
    RunStatus.PENDING: "info",
    RunStatus.RUNNING: "info",
    NEVER_RUN: "muted",
    SLOState.MET: "success",
    SLOState.AT_RISK: "warning",
    SLOState.BREACHED: "danger",
    SLOState.UNKNOWN: "muted",
    "healthy": "success",
    "warning": "warning",
    "failing": "danger",
    "unknown": "muted",
    "open": "danger",
    "acknowledged": "warning",
    "resolved": "success",
}
STATUS_LABELS = {**dict(RunStatus.choices), NEVER_RUN: "Never run"}


def tone(value: str) -> str:
    return TONES.get(value, "neutral")


def latest_per(queryset: QuerySet, partition: str, order: list[str], limit: int) -> QuerySet:
    """The first ``limit`` rows of each ``partition`` in ``order``, in one query (ROW_NUMBER() OVER …)."""
    ordering = [F(name[1:]).desc() if name.startswith("-") else F(name).asc() for name in order]
    numbered = queryset.annotate(position=Window(RowNumber(), partition_by=F(partition), order_by=ordering))
    return numbered.filter(position__lte=limit).order_by(partition, "position")


# --- Checks ------------------------------------------------------------------------------------


@dataclass
class CheckRow:
    """One check with its recent runs, newest first."""

    check: Check
    runs: list[CheckRun] = field(default_factory=list)

    @property
    def last(self) -> CheckRun | None:
        """The latest finished run: the check's last result."""
        return next((run for run in self.runs if run.status in FINISHED_STATUSES), None)

    @property
    def queued(self) -> CheckRun | None:
        """A run newer than the last result that has not finished yet (pending or running)."""
        newest = self.runs[0] if self.runs else None
        return newest if newest is not None and newest.status not in FINISHED_STATUSES else None

    @property
    def status(self) -> str:
        if self.last is not None:
            return self.last.status
        return self.queued.status if self.queued is not None else NEVER_RUN

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def tone(self) -> str:
        return tone(self.status)

    @property
    def history(self) -> list[CheckRun]:
        """The runs oldest first, as the strip draws them from left to right."""
        return list(reversed(self.runs))


@dataclass
class OutputChecks:
    output: Output
    rows: list[CheckRow]

    @property
    def enabled_count(self) -> int:
        return sum(1 for row in self.rows if row.check.enabled)


def check_rows(product: DataProduct, user) -> dict[int, list[CheckRow]]:
    """The product's checks with their last ``HISTORY`` runs, by output id: two queries."""
    checks = policy.restrict(Check.objects.filter(product=product), user).order_by("output_id", "name")
    rows = {check.pk: CheckRow(check) for check in checks}
    runs = latest_per(
        policy.restrict(CheckRun.objects.filter(quality_check__product=product), user).only(
            "id", "quality_check_id", "scheduled_for", "finished", "status", "observed_value"
        ),
        "quality_check_id",
        CheckRun._meta.ordering,
        HISTORY,
    )
    for run in runs:
        if run.quality_check_id in rows:
            rows[run.quality_check_id].runs.append(run)
    by_output: dict[int, list[CheckRow]] = defaultdict(list)
    for row in rows.values():
        by_output[row.check.output_id].append(row)
    return by_output


# --- SLOs ------------------------------------------------------------------------------------


@dataclass
class Spark:
    """A small line chart's geometry in a ``SPARK_WIDTH`` × ``SPARK_HEIGHT`` SVG viewBox."""

    points: str
    objective_y: float | None


SPARK_WIDTH, SPARK_HEIGHT, SPARK_PAD = 120.0, 32.0, 3.0


def spark(values: list[float], objective: float | None = None) -> Spark | None:
    """Points for ``values`` (oldest first), scaled between their lowest (or the objective) and 100."""
    if not values:
        return None
    floor = min([*values, objective if objective is not None else 100.0])
    low = max(0.0, floor - max(0.5, (100.0 - floor) * 0.15))
    span = (100.0 - low) or 1.0
    step = (SPARK_WIDTH - 2 * SPARK_PAD) / max(1, len(values) - 1)

    def y(value: float) -> float:
        return round(SPARK_PAD + (100.0 - value) / span * (SPARK_HEIGHT - 2 * SPARK_PAD), 2)

    coords = [(round(SPARK_PAD + i * step, 2), y(value)) for i, value in enumerate(values)]
    if len(coords) == 1:  # one measurement: a flat line across the chart
        coords = [(SPARK_PAD, coords[0][1]), (SPARK_WIDTH - SPARK_PAD, coords[0][1])]
    points = " ".join(f"{x},{y}" for x, y in coords)
    return Spark(points=points, objective_y=y(objective) if objective is not None else None)


@dataclass
class SLOGauge:
    """An SLO with its latest evaluation (None: never evaluated) and its recent ones, newest first."""

    slo: SLO
    evaluations: list[SLOEvaluation] = field(default_factory=list)

    @property
    def latest(self) -> SLOEvaluation | None:
        return self.evaluations[0] if self.evaluations else None

    @property
    def state(self) -> str:
        return self.latest.state if self.latest is not None else SLOState.UNKNOWN

    @property
    def state_label(self) -> str:
        return SLOState(self.state).label

    @property
    def tone(self) -> str:
        return tone(self.state)

    @property
    def has_data(self) -> bool:
        return self.compliance is not None

    @property
    def objective(self) -> float:
        return float(self.slo.objective_percent)

    @property
    def compliance(self) -> float | None:
        return self.latest.compliance_percent if self.latest is not None else None

    @property
    def budget(self) -> float | None:
        return self.latest.budget_remaining_percent if self.latest is not None else None

    @property
    def burn_rate(self) -> float | None:
        return self.latest.burn_rate if self.latest is not None else None

    @property
    def budget_width(self) -> float:
        """The error budget bar's filled share, 0–100 (an overspent budget draws empty)."""
        return 0.0 if self.budget is None else round(min(100.0, max(0.0, self.budget)), 2)

    @property
    def budget_tone(self) -> str:
        if self.budget is None:
            return "muted"
        return "success" if self.budget >= 50 else "warning" if self.budget > 0 else "danger"

    @property
    def budget_note(self) -> str:
        """Why there is no budget figure: nothing measured yet, or an objective of 100 % that allows no bad run."""
        return "none allowed" if self.has_data else "no data"

    @property
    def burn_note(self) -> str:
        """Why there is no burn rate: nothing measured, no budget to burn, or no run in the last 24 hours."""
        if not self.has_data:
            return "no data"
        return "no budget" if self.objective >= 100 else "no runs in 24 h"

    @property
    def trend(self) -> Spark | None:
        values = [e.compliance_percent for e in reversed(self.evaluations) if e.compliance_percent is not None]
        return spark(values, self.objective) if len(values) > 1 else None


def slo_gauges(product: DataProduct, user) -> list[SLOGauge]:
    """The product's SLOs (prefetched with the page) with their last ``TREND`` evaluations: one query."""
    gauges = {slo.pk: SLOGauge(slo) for slo in product.slos.all()}
    evaluations = latest_per(
        policy.restrict(SLOEvaluation.objects.filter(slo__product=product), user),
        "slo_id",
        SLOEvaluation._meta.ordering,
        TREND,
    )
    for evaluation in evaluations:
        if evaluation.slo_id in gauges:
            gauges[evaluation.slo_id].evaluations.append(evaluation)
    return list(gauges.values())


# --- The panel -------------------------------------------------------------------------------


def open_incidents(product: DataProduct, user) -> list[Incident]:
    queryset = Incident.objects.filter(product=product, status__in=ACTIVE_INCIDENT_STATUSES)
    return list(policy.restrict(queryset, user).select_related("quality_check__output", "slo"))


def product_health(product: DataProduct) -> ProductHealth | None:
    try:
        return product.health
    except ProductHealth.DoesNotExist:
        return None


def output_groups(outputs: Iterable[Output], rows: dict[int, list[CheckRow]]) -> list[OutputChecks]:
    return [OutputChecks(output, rows.get(output.pk, [])) for output in outputs]


def settings_url(product: DataProduct) -> str:
    return reverse("quality:settings", kwargs={"slug": product.slug})


def quality_context(request: HttpRequest, product: DataProduct) -> dict:
    """The Quality panel's context; ``can_change`` comes from the product page itself."""
    rows = check_rows(product, request.user)
    health = product_health(product)
    return {
        "outputs_checks": output_groups(product.outputs.all(), rows),
        "gauges": slo_gauges(product, request.user),
        "incidents": open_incidents(product, request.user),
        "health": health,
        "health_tone": tone(health.state) if health else "muted",
        "count": sum(len(group) for group in rows.values()),
        "edit_url": settings_url(product),
        "history_size": HISTORY,
    }
