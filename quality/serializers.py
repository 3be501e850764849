"""The quality API's JSON: checks, their runs, SLOs with their latest figures, incidents.

Rules live on the models (``Check.clean``, ``Check.may_be_edited_by``) and in ``quality.incidents``;
these shape the JSON and refuse what no database could store (a NUL byte, an infinite number).
"""

from __future__ import annotations

import json
import math

from celery.schedules import ParseException
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from access.api import RestrictedPrimaryKeyRelatedField, ValidatedModelSerializer
from products.models import SLO, Output
from products.serializers import SLOSerializer
from utilities.validators import MARKDOWN_MAX_LENGTH, TEXT_MAX_LENGTH

from .choices import IncidentStatus, RunStatus, SLOState
from .models import Check, CheckRun, Incident, IncidentEvent, SLOEvaluation, validate_cron

# The longest thing params hold is an admin's custom SQL; a megabyte of JSON is refused.
PARAMS_MAX_LENGTH = MARKDOWN_MAX_LENGTH


def first_prefetched(obj, to_attr: str, fallback):
    """The first of the objects a ``Prefetch(…, to_attr=…)`` put on ``obj``; ``fallback()`` when not prefetched."""
    items = getattr(obj, to_attr, None)
    if items is None:
        return fallback()
    return items[0] if items else None


def unstorable(value) -> str | None:
    """Why a parsed JSON value cannot be stored (PostgreSQL refuses NUL bytes; JSON has no infinity), or None."""
    pending = [value]
    while pending:  # a loop, not recursion: deeply nested input must not exhaust the stack
        item = pending.pop()
        if isinstance(item, str) and "\x00" in item:
            return "Null characters are not allowed."
        if isinstance(item, float) and not math.isfinite(item):
            return "Numbers must be finite."
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return None


class JSONObjectField(serializers.DictField):
    """A JSON object of named values that every database can store, within a length limit."""

    def to_internal_value(self, data) -> dict:
        value = super().to_internal_value(data)
        problem = unstorable(value)
        if problem:
            raise serializers.ValidationError(problem)
        if len(json.dumps(value)) > PARAMS_MAX_LENGTH:
            raise serializers.ValidationError(f"Keep this under {PARAMS_MAX_LENGTH} characters of JSON.")
        return value


def cron_validator(value: str) -> None:
    """The model's cron check, with Celery's parse errors (``1,,2``) as field errors too."""
    try:
        validate_cron(value)
    except ParseException as exc:
        raise DjangoValidationError(f"{value!r} is not a valid cron schedule: {exc}.") from None


def named_choice_field(choices: type[models.TextChoices]) -> type[serializers.ChoiceField]:
    """A choice field the schema shows as one enum named after ``choices``, in every serializer using it.

    A list and a detail serializer sharing a choice set under a field name that other choice sets
    use too (``status``) would otherwise get a made-up enum name, with a warning.
    """
    described = "\n".join(f"* `{value}` - {label}" for value, label in choices.choices)
    schema = {"type": "string", "enum": list(choices.values), "description": described}

    @extend_schema_field(schema, component_name=f"{choices.__name__}Enum")
    class NamedChoiceField(serializers.ChoiceField):
        def __init__(self, **kwargs) -> None:
            super().__init__(choices=choices.choices, **kwargs)

    NamedChoiceField.__name__ = NamedChoiceField.__qualname__ = f"{choices.__name__}Field"
    return NamedChoiceField


RunStatusField = named_choice_field(RunStatus)
IncidentStatusField = named_choice_field(IncidentStatus)


# --- Checks and their runs -----------------------------------------------------------------


class LastRunSerializer(serializers.ModelSerializer):
    status = RunStatusField(read_only=True)

    class Meta:
        model = CheckRun
        fields = ["id", "status", "observed_value", "scheduled_for"]
        read_only_fields = fields


class CheckSerializer(ValidatedModelSerializer):
    """A check on one output. Its product follows the output; the SLOs it measures belong to the same product."""

    product = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    # Outputs the user may see; the viewset refuses (403) one whose product they may not change.
    output = RestrictedPrimaryKeyRelatedField(queryset=Output.objects.select_related("product"))
    columns = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        max_length=100,
        help_text=Check._meta.get_field("columns").help_text,
    )
    params = JSONObjectField(required=False, help_text=Check._meta.get_field("params").help_text)
    schedule = serializers.CharField(
        max_length=100,
        required=False,
        validators=[cron_validator],
        help_text=Check._meta.get_field("schedule").help_text,
    )
    slos = RestrictedPrimaryKeyRelatedField(
        queryset=SLO.objects.all(), many=True, required=False, help_text="Ids of the SLOs this check measures."
    )
    threshold_display = serializers.CharField(read_only=True)
    last_run = serializers.SerializerMethodField(help_text="The latest run, by scheduled time; null before the first.")

    class Meta:
        model = Check
        fields = [
            "id",
            "product",
            "output",
            "name",
            "check_type",
            "column",
            "columns",
            "params",
            "operator",
            "threshold",
            "threshold_high",
            "severity",
            "enabled",
            "schedule",
            "slos",
            "threshold_display",
            "last_run",
            "created",
            "updated",
        ]

    def validate(self, attrs: dict) -> dict:
        output = attrs.get("output") or getattr(self.instance, "output", None)
        slos = attrs["slos"] if "slos" in attrs else (self.instance.slos.all() if self.instance else [])
        if output is not None and any(slo.product_id != output.product_id for slo in slos):
            raise serializers.ValidationError({"slos": ["Every SLO must belong to the check's product."]})
        return super().validate(attrs)

    @extend_schema_field(LastRunSerializer(allow_null=True))
    def get_last_run(self, check: Check) -> dict | None:
        run = first_prefetched(check, "latest_runs", lambda: check.runs.first())
        return LastRunSerializer(run).data if run else None


class CheckRunSerializer(serializers.ModelSerializer):
    """One run of a check for one scheduled slot. Samples are as the engine stored them (PII masked)."""

    check = serializers.PrimaryKeyRelatedField(source="quality_check", read_only=True)
    check_name = serializers.CharField(source="quality_check.name", read_only=True)
    product = serializers.SlugRelatedField(source="quality_check.product", slug_field="slug", read_only=True)
    output = serializers.PrimaryKeyRelatedField(source="quality_check.output", read_only=True)
    status = RunStatusField(read_only=True)
    samples = serializers.JSONField(read_only=True, help_text="Up to five offending rows (or schema mismatches).")

    class Meta:
        model = CheckRun
        fields = [
            "id",
            "check",
            "check_name",
            "product",
            "output",
            "scheduled_for",
            "started",
            "finished",
            "status",
            "observed_value",
            "samples",
            "error",
            "duration_ms",
            "attempts",
        ]
        read_only_fields = fields


# --- SLOs ----------------------------------------------------------------------------------


def figure(field_class: type[serializers.Field], name: str, **kwargs) -> serializers.Field:
    """A read-only figure of the SLO's latest evaluation: null until it is first evaluated, never a made-up 0."""
    return field_class(source=f"latest_evaluation.{name}", read_only=True, allow_null=True, **kwargs)


class QualitySLOSerializer(SLOSerializer):
    """An SLO (written as in the products API) with its latest figures and the checks that measure it."""

    state = serializers.SerializerMethodField(help_text="unknown until there is a measurement.")
    compliance_percent = figure(serializers.FloatField, "compliance_percent")
    budget_remaining_percent = figure(serializers.FloatField, "budget_remaining_percent")
    burn_rate = figure(serializers.FloatField, "burn_rate")
    evaluated_at = figure(serializers.DateTimeField, "evaluated_at")
    good = figure(serializers.IntegerField, "good")
    bad = figure(serializers.IntegerField, "bad")
    errors = figure(serializers.IntegerField, "errors")
    checks = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True, help_text="Ids of the checks whose runs measure this SLO (set on the checks)."
    )

    class Meta(SLOSerializer.Meta):
        fields = SLOSerializer.Meta.fields + [
            "state",
            "compliance_percent",
            "budget_remaining_percent",
            "burn_rate",
            "evaluated_at",
            "good",
            "bad",
            "errors",
            "checks",
        ]

    def to_representation(self, slo: SLO) -> dict:
        # The figures' sources read this; the viewset prefetches it for a whole page at once.
        slo.latest_evaluation = first_prefetched(slo, "latest_evaluations", lambda: slo.evaluations.first())
        return super().to_representation(slo)

    @extend_schema_field(serializers.ChoiceField(choices=SLOState.choices))
    def get_state(self, slo: SLO) -> str:
        return slo.latest_evaluation.state if slo.latest_evaluation else SLOState.UNKNOWN


class SLOEvaluationSerializer(serializers.ModelSerializer):
    class Meta:
        model = SLOEvaluation
        fields = [
            "id",
            "evaluated_at",
            "window_start",
            "state",
            "compliance_percent",
            "budget_remaining_percent",
            "burn_rate",
            "good",
            "bad",
            "errors",
        ]
        read_only_fields = fields


# --- Incidents -----------------------------------------------------------------------------


class IncidentEventSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = IncidentEvent
        fields = ["id", "kind", "at", "user", "note", "run", "evaluation"]
        read_only_fields = fields


class IncidentSerializer(serializers.ModelSerializer):
    """A failing check, a breached SLO or a KPI out of its bounds; written only through acknowledge and resolve."""

    product = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    check = serializers.PrimaryKeyRelatedField(source="quality_check", read_only=True, allow_null=True)
    kpi = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    status = IncidentStatusField(read_only=True)
    acknowledged_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    resolved_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Incident
        fields = [
            "id",
            "product",
            "check",
            "slo",
            "kpi",
            "title",
            "status",
            "opened_at",
            "last_seen_at",
            "occurrences",
            "acknowledged_at",
            "acknowledged_by",
            "resolved_at",
            "resolved_by",
            "resolution",
        ]
        read_only_fields = fields


class IncidentDetailSerializer(IncidentSerializer):
    """An incident with its timeline, oldest event first."""

    events = IncidentEventSerializer(many=True, read_only=True)

    class Meta(IncidentSerializer.Meta):
        fields = IncidentSerializer.Meta.fields + ["events"]
        read_only_fields = fields


class AcknowledgeSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=TEXT_MAX_LENGTH)


class ResolveSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=TEXT_MAX_LENGTH, help_text="Why the incident is resolved.")
