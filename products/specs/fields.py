"""Which model field each key of a spec document holds, and how its value is written.

Plain values (text, numbers, dates, choices, flags, lists of names) are listed here, per part of
the spec, so export, import and the JSON Schema share one table. References to other objects
(owner, goals, an upstream output) are handled by name in ``document`` and ``importer``.

One rule for empty and default values: export leaves out a key whose value is its field's
default (unless the key is in ``always``), and import gives a missing key its field's default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db import models

from quality.models import Check

from ..models import (
    KPI,
    SLO,
    Dashboard,
    DataProduct,
    Goal,
    Hypothesis,
    Initiative,
    Output,
    OutputColumn,
    ProductInput,
    RowFilter,
    UsagePattern,
    UseCase,
)


@dataclass(frozen=True)
class Part:
    """One kind of item in the document: its model, its natural key and its plain fields."""

    noun: str  # in change lists and errors: "goal", "output"
    model: type[models.Model]
    key: str  # the document key naming an item within its list ("title", "name")
    fields: dict[str, str]  # document key → model attribute
    always: tuple[str, ...] = ()  # keys written even when at their default
    refs: tuple[str, ...] = field(default=())  # keys resolved by name, in document order

    def model_field(self, key: str) -> models.Field:
        return self.model._meta.get_field(self.fields[key])


PRODUCT_METADATA = Part(
    "product",
    DataProduct,
    "slug",
    {"slug": "slug", "name": "name", "status": "status", "version": "version", "sunset_date": "sunset_date"},
    always=("slug", "name", "status", "version"),
    refs=("domain", "owner", "stewards", "tags", "consumer_teams", "replaced_by"),
)
PRODUCT_SPEC = Part(
    "product",
    DataProduct,
    "slug",
    {"summary": "summary", "vision": "vision", "auto_resolve_incidents": "auto_resolve_incidents"},
    refs=("north_star",),
)
GOAL = Part(
    "goal",
    Goal,
    "title",
    {
        "title": "title",
        "description": "description",
        "success_measure": "success_measure",
        "target": "target_value",
        "target_unit": "target_unit",
        "target_date": "target_date",
    },
    always=("title",),
)
INITIATIVE = Part(
    "initiative", Initiative, "title", {"title": "title", "description": "description"}, ("title",), ("goals",)
)
HYPOTHESIS = Part(
    "hypothesis",
    Hypothesis,
    "title",
    {"title": "title", "statement": "statement", "status": "status", "evidence": "evidence"},
    always=("title", "statement", "status"),
    refs=("goal", "initiative"),
)
USE_CASE = Part(
    "use case",
    UseCase,
    "title",
    {"title": "title", "description": "description", "stakeholders": "stakeholders", "priority": "priority"},
    always=("title", "priority"),
    refs=("hypotheses",),
)
USAGE_PATTERN = Part(
    "usage pattern",
    UsagePattern,
    "name",
    {
        "name": "name",
        "users": "users",
        "frequency": "frequency",
        "update_cadence": "update_cadence",
        "completeness_need": "completeness_need",
        "freshness_need": "freshness_need",
        "accuracy_need": "accuracy_need",
        "description": "description",
    },
    always=("name", "frequency", "update_cadence"),
)
INPUT = Part(
    "input",
    ProductInput,
    "",  # keyed by ``output`` or ``external``
    {"description": "description", "columns": "columns"},
    refs=("output", "external"),
)
OUTPUT = Part(
    "output",
    Output,
    "name",
    {
        "name": "name",
        "description": "description",
        "kind": "kind",
        "format": "format",
        "path": "path",
        "table": "table",
        "refresh_cadence": "refresh_cadence",
    },
    always=("name", "kind", "format", "refresh_cadence"),
    refs=("connection",),
)
COLUMN = Part(
    "column",
    OutputColumn,
    "name",
    {
        "name": "name",
        "type": "data_type",
        "role": "role",
        "classification": "classification",
        "masking": "masking",
        "description": "description",
    },
    always=("name", "type", "role", "classification"),
)
CHECK = Part(
    "check",
    Check,
    "name",
    {
        "name": "name",
        "type": "check_type",
        "column": "column",
        "columns": "columns",
        "params": "params",
        "operator": "operator",
        "threshold": "threshold",
        "threshold_high": "threshold_high",
        "severity": "severity",
        "schedule": "schedule",
        "enabled": "enabled",
    },
    always=("name", "type", "severity", "schedule"),
    refs=("slos",),
)
ROW_FILTER = Part("row filter", RowFilter, "", {"column": "column", "values": "values"}, ("column", "values"))
KPI_PART = Part(
    "kpi",
    KPI,
    "name",
    {
        "name": "name",
        "level": "level",
        "definition": "definition",
        "aggregation": "aggregation",
        "column": "column",
        "denominator_aggregation": "denominator_aggregation",
        "denominator_column": "denominator_column",
        "filter": "filter",
        "time_column": "time_column",
        "grain": "grain",
        "unit": "unit",
        "direction": "direction",
        "target": "target",
        "indicator_type": "indicator_type",
        "dimensions": "dimensions",
        "status": "status",
        "schedule": "schedule",
        "alert_rule": "alert_rule",
        "alert_min": "alert_min",
        "alert_max": "alert_max",
        "baseline_periods": "baseline_periods",
        "baseline_k": "baseline_k",
    },
    always=("name", "level", "direction", "indicator_type"),
    refs=("parent", "goals", "output", "owner", "counter_metrics"),
)
SLO_PART = Part(
    "slo",
    SLO,
    "name",
    {
        "name": "name",
        "category": "category",
        "description": "description",
        "indicator": "indicator",
        "objective_percent": "objective_percent",
        "window_days": "window_days",
    },
    always=("name", "category", "indicator", "objective_percent", "window_days"),
    refs=("kpi",),
)


DASHBOARD = Part(
    "dashboard",
    Dashboard,
    "name",
    {
        "name": "name",
        "description": "description",
        "default_days": "default_days",
        "filters": "filters",
        "tiles": "tiles",
    },
    always=("name", "tiles"),
)


def to_doc_value(model_field: models.Field, value):
    """A model value as the document writes it: decimals without trailing zeros."""
    if isinstance(value, Decimal):
        return normal_decimal(value)
    return value


def normal_decimal(value: Decimal) -> Decimal | int:
    """12.5000 → 12.5, 100.0000 → 100 (an int, so YAML writes it as one)."""
    value = value.normalize()
    if value == value.to_integral_value():
        return int(value)
    return value


def default_of(model_field: models.Field):
    return to_doc_value(model_field, model_field.get_default())


def plain_values(part: Part, obj: models.Model) -> dict:
    """The plain keys of ``obj`` in the document, in the part's order, defaults left out."""
    result = {}
    for key in part.fields:
        model_field = part.model_field(key)
        value = to_doc_value(model_field, getattr(obj, model_field.attname))
        if key in part.always or value != default_of(model_field):
            result[key] = value
    return result
