"""Checks on a product's outputs and the record of every run.

A ``Check`` is part of the product spec: seen with its product and changed by whoever may change
the product (custom SQL by admins only, see ``Check.may_be_edited_by``). A ``CheckRun`` is the
job record of one scheduled slot: created before the work, claimed with a conditional update,
finished with the result — exactly one per check and slot.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery.schedules import crontab
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from access import policy
from access.policy import RestrictedQuerySet
from products.models import KPI, SLO, DataProduct, Output
from utilities import crypto
from utilities.cron import CRON_FIELDS, cron_problem, cron_schedule, validate_cron  # noqa: F401 (migrations, callers)
from utilities.validators import no_nul

from .checks import CHECK_TYPES, type_choices
from .choices import (
    ACTIVE_INCIDENT_STATUSES,
    FINISHED_STATUSES,
    OPERATOR_SYMBOLS,
    Channel,
    DeliveryStatus,
    Health,
    IncidentEventKind,
    IncidentStatus,
    KPIAlertState,
    KPIRunStatus,
    Operator,
    RunStatus,
    Severity,
    SLOState,
)

logger = logging.getLogger(__name__)

CLAIMABLE_STATUSES = (RunStatus.PENDING, RunStatus.RUNNING)
CUSTOM_SQL = "custom_sql"


def now_slot() -> datetime:
    """The slot of a run asked for now rather than by a schedule: this second."""
    return timezone.now().replace(microsecond=0)


class Check(models.Model):
    """A quality check on one output: a type from the registry, its params, a threshold, severity and schedule."""

    # The policy resolves one step; the product is copied from the output on save (see ``save``).
    access_parent = "product"

    product = models.ForeignKey(DataProduct, on_delete=models.CASCADE, related_name="checks", editable=False)
    output = models.ForeignKey(Output, on_delete=models.CASCADE, related_name="checks")
    name = models.CharField(max_length=100, validators=[no_nul])
    check_type = models.CharField(max_length=30, choices=type_choices)
    column = models.CharField(max_length=100, blank=True, validators=[no_nul], help_text="The column checked.")
    columns = models.JSONField(default=list, blank=True, help_text="Key columns, for duplicate_count.")
    params = models.JSONField(
        default=dict,
        blank=True,
        help_text="allowed_values, regex, min, max (invalid_count); max_age_hours (freshness); "
        "columns {name: type} (schema; default: the output's schema); sql (custom_sql, {table} is the output).",
    )
    operator = models.CharField(
        max_length=10, choices=Operator.choices, blank=True, help_text="Blank: the check type's default."
    )
    threshold = models.FloatField(null=True, blank=True, help_text="Blank: the check type's default.")
    threshold_high = models.FloatField(null=True, blank=True, help_text="Upper bound, for 'between'.")
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.FAIL)
    enabled = models.BooleanField(default=True)
    slos = models.ManyToManyField(
        SLO, blank=True, related_name="checks", help_text="The SLOs whose measurements are this check's runs."
    )
    schedule = models.CharField(
        max_length=100, default="0 * * * *", validators=[validate_cron], help_text="Cron, in UTC: m h dom mon dow."
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["output", "name"]
        constraints = [models.UniqueConstraint(fields=["output", "name"], name="unique_check_name")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.sync_product()
        self.apply_defaults()
        super().save(*args, **kwargs)

    @property
    def kind(self):
        return CHECK_TYPES[self.check_type]

    def key_columns(self) -> list[str]:
        return list(self.columns) if self.columns else ([self.column] if self.column else [])

    def apply_defaults(self) -> None:
        """Fill a blank operator and threshold from the check type (freshness: params.max_age_hours)."""
        if self.check_type not in CHECK_TYPES:
            return
        if not self.operator:
            self.operator = self.kind.default_operator
        if self.threshold is None and isinstance(self.params, dict):
            self.threshold = self.kind.default_threshold_for(self)

    def sync_product(self) -> None:
        if self.output_id:
            self.product_id = self.output.product_id

    def clean_fields(self, exclude=None) -> None:
        self.sync_product()  # before the field checks, which would find the copied product missing
        super().clean_fields(exclude)

    def clean(self) -> None:
        if not self.output_id or self.check_type not in CHECK_TYPES:
            return  # the field errors already say so
        self.sync_product()
        self.apply_defaults()
        errors = self._shape_errors()
        if not errors:
            known = {column.name for column in self.output.columns.all()}  # prefetched, when a caller did
            errors = self._column_errors(known) or self.kind.validate(self, known) or self._threshold_errors()
        if errors:
            raise ValidationError(errors)

    def _shape_errors(self) -> dict[str, str]:
        errors = {}
        if not isinstance(self.params, dict):
            errors["params"] = "params must be an object of named values."
        if not isinstance(self.columns, list) or not all(isinstance(name, str) and name for name in self.columns):
            errors["columns"] = "columns must be a list of column names."
        return errors

    def _column_errors(self, known: set[str]) -> dict[str, str]:
        if self.kind.needs_column and not self.column:
            return {"column": f"A {self.check_type} check needs a column."}
        if known and self.column and self.column not in known:
            return {"column": f"The output {self.output.name} has no column {self.column!r}."}
        unknown = [name for name in self.columns if known and name not in known]
        if unknown:
            return {"columns": f"The output {self.output.name} has no column {unknown[0]!r}."}
        return {}

    def _threshold_errors(self) -> dict[str, str]:
        if self.threshold is None:
            return {"threshold": "Give a threshold."}
        if self.operator == Operator.BETWEEN:
            if self.threshold_high is None:
                return {"threshold_high": "'between' needs an upper bound."}
            if self.threshold_high < self.threshold:
                return {"threshold_high": "The upper bound must not be below the threshold."}
        return {}

    def may_be_edited_by(self, user) -> bool:
        """Stewards and owners edit their product's checks; custom SQL is for admins only."""
        if self.check_type == CUSTOM_SQL and not (policy.is_signed_in(user) and user.is_superuser):
            return False
        return policy.can(user, policy.CHANGE, self.output.product)

    def passes(self, observed: float) -> bool:
        low, high = self.threshold, self.threshold_high
        return {
            Operator.EQ: lambda: observed == low,
            Operator.NE: lambda: observed != low,
            Operator.LT: lambda: observed < low,
            Operator.LTE: lambda: observed <= low,
            Operator.GT: lambda: observed > low,
            Operator.GTE: lambda: observed >= low,
            Operator.BETWEEN: lambda: low <= observed <= high,
        }[self.operator]()

    def status_for(self, observed: float) -> str:
        """pass, or the check's severity (warn or fail) when the observed value breaches the threshold."""
        if self.passes(observed):
            return RunStatus.PASS
        return RunStatus.FAIL if self.severity == Severity.FAIL else RunStatus.WARN

    @property
    def threshold_display(self) -> str:
        if self.operator == Operator.BETWEEN:
            return f"between {self.threshold:g} and {self.threshold_high:g}"
        if self.threshold is None:
            return "-"
        return f"{OPERATOR_SYMBOLS.get(self.operator, self.operator)} {self.threshold:g}"

    @property
    def crontab(self) -> crontab:
        return cron_schedule(self.schedule)


class CheckRun(models.Model):
    """One run of a check for one scheduled slot: the job record, created before the work."""

    access_parent = "quality_check"

    # Not ``check``: that name would hide ``Model.check()``, Django's system checks (models.E020).
    quality_check = models.ForeignKey(Check, on_delete=models.CASCADE, related_name="runs")
    scheduled_for = models.DateTimeField()
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.PENDING, db_index=True)
    observed_value = models.FloatField(null=True, blank=True)
    samples = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-scheduled_for", "-id"]
        constraints = [models.UniqueConstraint(fields=["quality_check", "scheduled_for"], name="one_run_per_slot")]
        indexes = [models.Index(fields=["quality_check", "-scheduled_for"], name="check_run_history")]

    def __str__(self) -> str:
        return f"{self.quality_check} @ {self.scheduled_for:%Y-%m-%d %H:%M} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @classmethod
    def take(cls, check: Check, slot: datetime) -> CheckRun | None:
        """The run of ``check`` for ``slot``, claimed for this delivery (``running``); None if it is not ours.

        Not ours: the slot is finished, or another delivery claimed it first. A run claimed more
        than ``LODESTAR_CHECK_MAX_DELIVERIES`` times is finished here as an ``error``, without
        running the check, and returned so.
        """
        run, _ = cls.objects.get_or_create(quality_check=check, scheduled_for=slot)
        if not run.claim():
            return None
        cap = settings.LODESTAR_CHECK_MAX_DELIVERIES
        if run.attempts > cap:
            message = (
                f"The check was interrupted {run.attempts - 1} times (its worker died or was killed); "
                "it is not tried again for this slot."
            )
            return run if run.store(status=RunStatus.ERROR, error=message) else None
        return run

    def claim(self) -> bool:
        """Take this run for one delivery: a compare-and-swap on ``attempts``, the fencing token.

        A pending run, or a running one (its delivery died: the hard time limit is below the
        broker's visibility timeout, so a live delivery is never handed out twice), is taken by
        ``UPDATE … WHERE status IN (pending, running) AND attempts = <as read>``. Of two
        deliveries that read the same row, the database lets exactly one UPDATE hit it; only
        that one works, and only it may ``finish`` (Healthchecks' sendalerts).
        """
        if self.is_finished:
            return False
        seen, now = self.attempts, timezone.now()
        taken = CheckRun.objects.filter(pk=self.pk, status__in=CLAIMABLE_STATUSES, attempts=seen).update(
            status=RunStatus.RUNNING, attempts=seen + 1, started=now
        )
        if taken != 1:
            return False
        self.status, self.attempts, self.started = RunStatus.RUNNING, seen + 1, now
        return True

    def release(self) -> bool:
        """Give the run back as if this delivery had never claimed it, for its retry to take.

        The count goes back down, so only interruptions count toward the cap. That is safe as a
        fence: a released run is pending, and only a running run with the holder's count can be
        finished; a later claim always counts up again.
        """
        released = CheckRun.objects.filter(pk=self.pk, status=RunStatus.RUNNING, attempts=self.attempts).update(
            status=RunStatus.PENDING, attempts=self.attempts - 1, started=None
        )
        if released == 1:
            self.status, self.attempts, self.started = RunStatus.PENDING, self.attempts - 1, None
        return released == 1

    def finish(self, result) -> bool:
        """Store an engine ``Result`` on this run, if this delivery still holds it; False when it does not."""
        return self.store(
            status=result.status,
            observed_value=result.observed_value,
            samples=result.samples,
            error=result.error,
            duration_ms=result.duration_ms,
        )

    def store(self, *, status: str, error: str = "", **values) -> bool:
        """Finish the run with a final status while this delivery holds it, then what follows a run.

        One transaction: the result is stored if and only if ``outcomes.after_run`` ran for it, and a
        delivery that lost its claim (another took the run over) stores nothing and triggers nothing.
        """
        from . import outcomes  # outcomes reads and writes these models

        values = {"status": status, "error": error, "finished": timezone.now(), **values}
        with transaction.atomic():
            stored = CheckRun.objects.filter(pk=self.pk, status=RunStatus.RUNNING, attempts=self.attempts).update(
                **values
            )
            if stored != 1:
                logger.info("%s is no longer held by attempt %d; its result is dropped.", self, self.attempts)
                return False
            for name, value in values.items():
                setattr(self, name, value)
            outcomes.after_run(self)
        return True


class BeatLease(models.Model):
    """Who may schedule: the one beat holding the lease, refreshed on every tick (see ``quality.beat``)."""

    name = models.CharField(max_length=50, primary_key=True)
    holder = models.CharField(max_length=200, blank=True)
    expires = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name}: {self.holder or 'nobody'} until {self.expires:%Y-%m-%d %H:%M:%S}"

    @classmethod
    def take(cls, name: str, holder: str, seconds: float) -> bool:
        """Take or extend the lease for ``seconds``: a conditional UPDATE, won by the holder or once it expired."""
        now = timezone.now()
        cls.objects.get_or_create(name=name, defaults={"expires": now})
        return (
            cls.objects.filter(Q(holder=holder) | Q(expires__lte=now), name=name).update(
                holder=holder, expires=now + timedelta(seconds=seconds)
            )
            == 1
        )

    @classmethod
    def release(cls, name: str, holder: str) -> None:
        """Let the next beat take over at once, rather than when the lease runs out."""
        cls.objects.filter(name=name, holder=holder).update(holder="", expires=timezone.now())


class SLOEvaluation(models.Model):
    """An SLO measured over its window at one moment: kept as history for trend charts.

    Compliance, budget and burn rate stay empty (never zero) when the window holds no finished
    measurement other than errors: the state is then ``unknown``.
    """

    access_parent = "slo__product"

    slo = models.ForeignKey(SLO, on_delete=models.CASCADE, related_name="evaluations")
    evaluated_at = models.DateTimeField(db_index=True)
    window_start = models.DateTimeField()
    good = models.PositiveIntegerField(default=0)
    bad = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    compliance_percent = models.FloatField(null=True, blank=True)
    budget_remaining_percent = models.FloatField(
        null=True, blank=True, help_text="Share of the error budget left; negative once overspent."
    )
    burn_rate = models.FloatField(
        null=True,
        blank=True,
        help_text="Bad share over the allowed share: 1 spends the budget exactly over the window.",
    )
    state = models.CharField(max_length=10, choices=SLOState.choices, default=SLOState.UNKNOWN)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-evaluated_at", "-id"]
        get_latest_by = "evaluated_at"
        indexes = [models.Index(fields=["slo", "-evaluated_at"], name="slo_evaluation_history")]

    def __str__(self) -> str:
        return f"{self.slo} @ {self.evaluated_at:%Y-%m-%d %H:%M}: {self.state}"


# Newest first, as the models order themselves: for a ``Subquery`` on the enclosing check or SLO.
def newest_runs_of_outer_check() -> models.QuerySet:
    """The runs of the check the enclosing query is on (``OuterRef("pk")``), newest first."""
    return CheckRun.objects.filter(quality_check=OuterRef("pk")).order_by(*CheckRun._meta.ordering)


def newest_evaluations_of_outer_slo() -> models.QuerySet:
    """The evaluations of the SLO the enclosing query is on (``OuterRef("pk")``), newest first."""
    return SLOEvaluation.objects.filter(slo=OuterRef("pk")).order_by(*SLOEvaluation._meta.ordering)


class ProductHealth(models.Model):
    """One row per product with checks or SLOs: its health, kept current after every run.

    Search filters and sorts products on it without products knowing about quality.
    """

    access_parent = "product"

    product = models.OneToOneField(DataProduct, on_delete=models.CASCADE, related_name="health", primary_key=True)
    state = models.CharField(max_length=10, choices=Health.choices, default=Health.UNKNOWN, db_index=True)
    failing_checks = models.PositiveIntegerField(default=0)
    warning_checks = models.PositiveIntegerField(default=0)
    open_incidents = models.PositiveIntegerField(default=0)
    slos_breached = models.PositiveIntegerField(default=0)
    slos_at_risk = models.PositiveIntegerField(default=0)
    updated = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "product health"

    def __str__(self) -> str:
        return f"{self.product}: {self.state}"


class Incident(models.Model):
    """A failing check (fail severity) or a breached SLO that someone must look at.

    At most one active (open or acknowledged) incident per check and per SLO: the partial
    unique constraints hold that even when two workers record failures at once.
    """

    access_parent = "product"

    product = models.ForeignKey(DataProduct, on_delete=models.CASCADE, related_name="incidents", editable=False)
    quality_check = models.ForeignKey(Check, on_delete=models.CASCADE, null=True, blank=True, related_name="incidents")
    slo = models.ForeignKey(SLO, on_delete=models.CASCADE, null=True, blank=True, related_name="incidents")
    kpi = models.ForeignKey(KPI, on_delete=models.CASCADE, null=True, blank=True, related_name="incidents")
    title = models.CharField(max_length=300)
    status = models.CharField(max_length=15, choices=IncidentStatus.choices, default=IncidentStatus.OPEN, db_index=True)
    opened_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now, help_text="The latest failure attached.")
    occurrences = models.PositiveIntegerField(default=1)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolution = models.TextField(blank=True, validators=[no_nul], help_text="Why it is resolved.")

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quality_check__isnull=False, slo__isnull=True, kpi__isnull=True)
                | Q(quality_check__isnull=True, slo__isnull=False, kpi__isnull=True)
                | Q(quality_check__isnull=True, slo__isnull=True, kpi__isnull=False),
                name="incident_has_one_subject",
            ),
            models.UniqueConstraint(
                fields=["quality_check"],
                condition=Q(status__in=ACTIVE_INCIDENT_STATUSES),
                name="one_active_incident_per_check",
            ),
            models.UniqueConstraint(
                fields=["slo"], condition=Q(status__in=ACTIVE_INCIDENT_STATUSES), name="one_active_incident_per_slo"
            ),
            models.UniqueConstraint(
                fields=["kpi"], condition=Q(status__in=ACTIVE_INCIDENT_STATUSES), name="one_active_incident_per_kpi"
            ),
        ]
        indexes = [models.Index(fields=["product", "status"], name="incident_product_status")]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("quality:incident", args=[self.product.slug, self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_INCIDENT_STATUSES

    @property
    def subject(self):
        return self.quality_check or self.slo or self.kpi


class IncidentEvent(models.Model):
    """The incident's timeline: opened, failed again, acknowledged, resolved."""

    access_parent = "incident__product"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=15, choices=IncidentEventKind.choices)
    at = models.DateTimeField(default=timezone.now)
    run = models.ForeignKey(CheckRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    evaluation = models.ForeignKey(SLOEvaluation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True, validators=[no_nul])

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.incident}: {self.kind}"


class Webhook(models.Model):
    """Where a product's alerts are POSTed as signed JSON. Managed by whoever may change the product."""

    access_parent = "product"

    product = models.ForeignKey(DataProduct, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500, validators=[no_nul])
    # Encrypted at rest like connection URLs; shown once, never returned by the API.
    encrypted_secret = models.TextField(editable=False)
    enabled = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["product", "url"], name="unique_product_webhook")]

    def __str__(self) -> str:
        return self.url

    def clean(self) -> None:
        from .webhooks import validate_webhook_url  # resolves the host: refuses private addresses (SSRF)

        if self.url:
            try:
                validate_webhook_url(self.url)
            except ValidationError as exc:
                raise ValidationError({"url": exc.messages}) from None

    def set_secret(self, secret: str) -> None:
        self.encrypted_secret = crypto.encrypt(secret)

    @property
    def secret(self) -> str:
        return crypto.decrypt(self.encrypted_secret)


class Notification(models.Model):
    """One alert to one recipient (an email address or a webhook): the delivery record, retried until sent."""

    access_parent = "product"

    product = models.ForeignKey(DataProduct, on_delete=models.CASCADE, related_name="notifications")
    incident = models.ForeignKey(
        Incident, on_delete=models.SET_NULL, null=True, blank=True, related_name="notifications"
    )
    event = models.CharField(max_length=40, help_text="e.g. incident_opened, incident_resolved, slo_state_changed")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    recipient = models.CharField(max_length=500, help_text="An email address, or the webhook's URL.")
    webhook = models.ForeignKey(Webhook, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    subject = models.CharField(max_length=300)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.event} → {self.recipient} ({self.status})"


# --- KPI series ------------------------------------------------------------------------------


class KPIPoint(models.Model):
    """One value of a KPI's series: a period of one grain, for the total or one member of a dimension.

    ``dimension`` and ``member`` are "" for the total; a row whose dimension column is empty is the
    member "" of that dimension. ``numerator`` and ``denominator`` are kept where the value is their
    quotient or total (sum, count, average, ratio), so a longer window can be rolled up from days
    without reading the data again; a distinct count, a minimum or a maximum has none: those are
    computed for each window where the data lives, never summed.
    """

    access_parent = "kpi__product"

    kpi = models.ForeignKey(KPI, on_delete=models.CASCADE, related_name="points")
    grain = models.CharField(max_length=10)
    period_start = models.DateField()
    dimension = models.CharField(max_length=100, blank=True, default="")
    member = models.CharField(max_length=300, blank=True, default="")
    value = models.FloatField(null=True, blank=True)
    numerator = models.FloatField(null=True, blank=True)
    denominator = models.FloatField(null=True, blank=True)
    rows = models.BigIntegerField(default=0, help_text="Rows of the period that passed the filter.")
    partial = models.BooleanField(default=False, help_text="The period had not ended when it was computed.")
    computed_at = models.DateTimeField(default=timezone.now)

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["kpi", "grain", "dimension", "member", "period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["kpi", "grain", "dimension", "member", "period_start"], name="unique_kpi_point"
            )
        ]
        indexes = [models.Index(fields=["kpi", "grain", "dimension", "period_start"], name="kpi_point_series")]

    def __str__(self) -> str:
        where = f" {self.dimension}={self.member}" if self.dimension else ""
        return f"{self.kpi} {self.grain} {self.period_start}{where}: {self.value}"


class KPIRun(models.Model):
    """One computation of a KPI's series: when, how it went, how many points it wrote."""

    access_parent = "kpi__product"

    kpi = models.ForeignKey(KPI, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=10, choices=KPIRunStatus.choices, default=KPIRunStatus.RUNNING)
    trigger = models.CharField(max_length=20, default="schedule", help_text="schedule, request or demo.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    points = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    alert_state = models.CharField(max_length=10, choices=KPIAlertState.choices, blank=True)
    alert_detail = models.JSONField(default=dict, blank=True, help_text="The value, band and period alerted on.")

    objects = RestrictedQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["kpi", "-started_at"], name="kpi_run_latest")]

    def __str__(self) -> str:
        return f"{self.kpi} @ {self.started_at:%Y-%m-%d %H:%M}: {self.status}"
