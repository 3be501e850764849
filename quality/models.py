"""Checks on a product's outputs and the record of every run.

A ``Check`` is part of the product spec: seen with its product and changed by whoever may change
the product (custom SQL by admins only, see ``Check.may_be_edited_by``). A ``CheckRun`` is the
job record of one scheduled slot: created before the work, claimed with a conditional update,
finished with the result — exactly one per check and slot.
"""

from __future__ import annotations

from celery.schedules import crontab
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F
from django.utils import timezone

from access import policy
from access.policy import RestrictedQuerySet
from products.models import DataProduct, Output
from utilities.validators import no_nul

from .checks import CHECK_TYPES, type_choices
from .choices import FINISHED_STATUSES, OPERATOR_SYMBOLS, Operator, RunStatus, Severity

CRON_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
CUSTOM_SQL = "custom_sql"


def validate_cron(value: str) -> None:
    """Five cron fields that Celery's ``crontab`` accepts; an error names the field."""
    parts = value.split()
    if len(parts) != len(CRON_FIELDS):
        raise ValidationError(f"A cron schedule has 5 fields ({' '.join(CRON_FIELDS)}), not {len(parts)}.")
    for name, part in zip(CRON_FIELDS, parts, strict=True):
        try:
            crontab(**{name: part})
        except (ValueError, TypeError) as exc:
            raise ValidationError(f"{name} {part!r} is not valid: {exc}") from None


def cron_schedule(value: str) -> crontab:
    return crontab(**dict(zip(CRON_FIELDS, value.split(), strict=True)))


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
            known = set(self.output.columns.values_list("name", flat=True))
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

    def claim(self) -> bool:
        """Take this pending run for one worker: a conditional UPDATE that must hit exactly one row.

        Two workers handed the same slot both try; the database lets only one UPDATE match
        ``status='pending'``, so only one runs the check (Healthchecks' sendalerts).
        """
        now = timezone.now()
        claimed = CheckRun.objects.filter(pk=self.pk, status=RunStatus.PENDING).update(
            status=RunStatus.RUNNING, started=now, attempts=F("attempts") + 1
        )
        if claimed != 1:
            return False
        self.refresh_from_db(fields=["status", "started", "attempts"])
        return True

    def finish(self, result) -> None:
        """Store an engine ``Result`` on this run."""
        self.status = result.status
        self.observed_value = result.observed_value
        self.samples = result.samples
        self.error = result.error
        self.duration_ms = result.duration_ms
        self.started = self.started or timezone.now()
        self.finished = timezone.now()
        self.save(update_fields=["status", "observed_value", "samples", "error", "duration_ms", "started", "finished"])
