"""The JSON Schema of a spec document, built from the field table so the two never drift.

``docs/spec.schema.json`` is this schema written out; a test keeps the file in step
(regenerate it with ``python manage.py export_specs --schema docs/spec.schema.json``).
"""

from __future__ import annotations

import functools
import json

from django.db import models

from ..models import TILE_KEYS, TILE_KINDS, TILE_WINDOWS
from . import API_VERSION, KIND
from . import fields as f

SCHEMA_ID = "https://lodestar.example/schemas/spec.schema.json"
NAME = {"type": "string", "minLength": 1}
NAMES = {"type": "array", "items": NAME}


def field_schema(model_field: models.Field) -> dict:
    """The JSON Schema of one plain model field."""
    nullable = model_field.null
    if isinstance(model_field, models.BooleanField):
        schema = {"type": "boolean"}
    elif isinstance(model_field, models.PositiveIntegerField):
        schema = {"type": "integer", "minimum": 0}
    elif isinstance(model_field, models.DecimalField | models.FloatField):
        schema = {"type": "number"}
    elif isinstance(model_field, models.DateField):
        schema = {"type": "string", "format": "date"}
    else:
        schema = {"type": "string"}
        if model_field.max_length:
            schema["maxLength"] = model_field.max_length
        if model_field.choices:
            values = [value for value, _ in model_field.flatchoices]
            schema["enum"] = values + ([""] if model_field.blank and "" not in values else [])
    if nullable:
        schema["type"] = [schema["type"], "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    return schema


def part_schema(part: f.Part, refs: dict, required: tuple[str, ...] = (), **extra) -> dict:
    properties = {key: field_schema(part.model_field(key)) for key in part.fields}
    properties |= refs
    schema = {"type": "object", "additionalProperties": False, "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema | extra


def items(schema: dict) -> dict:
    return {"type": "array", "items": schema}


def one_of_keys(*keys: str) -> list[dict]:
    return [{"required": [key]} for key in keys]


def output_schema() -> dict:
    column = part_schema(f.COLUMN, {}, ("name",))
    check = part_schema(
        f.CHECK,
        {"columns": NAMES, "params": {"type": "object"}, "slos": NAMES},
        ("name", "type"),
    )
    row_filter = part_schema(
        f.ROW_FILTER,
        {"user": NAME, "group": NAME, "column": NAME, "values": {"type": "array", "items": {"type": "string"}}},
        ("column", "values"),
        oneOf=one_of_keys("user", "group"),
    )
    refs = {"connection": NAME, "columns": items(column), "checks": items(check), "row_filters": items(row_filter)}
    return part_schema(f.OUTPUT, refs, ("name",))


def spec_schema() -> dict:
    refs = {
        "north_star": NAME,
        "goals": items(part_schema(f.GOAL, {}, ("title",))),
        "initiatives": items(part_schema(f.INITIATIVE, {"goals": NAMES}, ("title",))),
        "hypotheses": items(
            part_schema(f.HYPOTHESIS, {"goal": NAME, "initiative": NAME}, ("title", "goal", "initiative", "statement"))
        ),
        "use_cases": items(part_schema(f.USE_CASE, {"hypotheses": NAMES}, ("title",))),
        "usage_patterns": items(part_schema(f.USAGE_PATTERN, {}, ("name",))),
        "inputs": items(
            part_schema(
                f.INPUT,
                {"output": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+/[^/]+$"}, "external": NAME, "columns": NAMES},
                oneOf=one_of_keys("output", "external"),
            )
        ),
        "outputs": items(output_schema()),
        "kpis": items(
            part_schema(
                f.KPI_PART,
                {
                    "parent": NAME,
                    "goals": NAMES,
                    "output": NAME,
                    "owner": NAME,
                    "dimensions": NAMES,
                    "counter_metrics": NAMES,
                },
                ("name",),
            )
        ),
        "slos": items(part_schema(f.SLO_PART, {"kpi": NAME}, ("name", "indicator", "objective_percent"))),
        "dashboards": items(part_schema(f.DASHBOARD, {"filters": NAMES, "tiles": items(tile_schema())}, ("name",))),
    }
    return part_schema(f.PRODUCT_SPEC, refs)


def tile_schema() -> dict:
    """A dashboard tile: what it shows and of which KPI (the model checks the names against the product)."""
    properties = {key: {"type": "string"} for key in sorted(TILE_KEYS)}
    properties["show"] = {"enum": list(TILE_KINDS)}
    properties["window"] = {"enum": list(TILE_WINDOWS)}
    return {"type": "object", "additionalProperties": False, "properties": properties, "required": ["show", "kpi"]}


def metadata_schema() -> dict:
    refs = {
        "domain": NAME,
        "owner": NAME,
        "stewards": NAMES,
        "tags": NAMES,
        "consumer_teams": NAMES,
        "replaced_by": NAME,
    }
    schema = part_schema(f.PRODUCT_METADATA, refs, ("slug", "name", "domain", "owner"))
    schema["properties"]["slug"]["pattern"] = "^[-a-zA-Z0-9_]+$"
    return schema


@functools.cache
def build_schema() -> dict:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Lodestar data product spec",
        "description": "One data product: its metadata and its whole spec. See docs/spec.md.",
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": API_VERSION},
            "kind": {"const": KIND},
            "metadata": metadata_schema(),
            "spec": spec_schema(),
        },
    }


def schema_text() -> str:
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"
