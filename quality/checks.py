"""The registry of check types: one class per kind of check, one contract (Healthchecks ``TRANSPORTS``).

The engine runs every check of an output in one pass where the data lives. A type tells it:

* ``measures(check, source)`` — aggregate SQL expressions, by name, that the engine puts into the
  one aggregate ``SELECT`` over the output (prefixed per check, so names never clash);
* ``extra_sql(check, source)`` — optionally one more query whose first cell is a value it needs
  (custom SQL; duplicates of a composite key where the database has no row values; duplicates where a
  GROUP BY of their own is cheaper than the shared aggregate): ``"extra"`` in the values, and the
  whole first row as ``"extra_row"``;
* ``observed(check, values, source)`` — the number the threshold is compared with, from the
  values of its measures (and ``"extra"``); raise ``CannotMeasure`` when there is no number;
* ``failing_rows_sql(check, source, values)`` — a query for up to ``SAMPLE_ROWS`` offending rows, run
  only when the check did not pass (``samples`` may return something else, like schema mismatches).

``source`` is the engine's view of where the data lives (``quality.engine.Source``): it quotes
identifiers (``quote``), binds values as parameters (``bind`` returns a placeholder), names the
relation to select from (``relation``) and knows its dialect's spelling of a regex mismatch,
a composite ``COUNT(DISTINCT …)`` and a timestamp's epoch. Nothing a user typed is ever
formatted into SQL except through ``quote`` and ``bind`` — custom SQL, which admins write, aside.

A new type is one subclass of ``CheckType`` added to ``CHECK_TYPES``.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError

from products.choices import DataType

from .choices import Operator

if TYPE_CHECKING:
    from .engine import Source
    from .models import Check

SAMPLE_ROWS = 5
TABLE_PLACEHOLDER = "{table}"


class CannotMeasure(Exception):
    """The data gave no number to compare (no rows, no timestamps, a non-numeric result): an error, not a fail."""


class CheckType:
    """One kind of check. Subclasses set ``name`` and ``label`` and implement the contract above."""

    name = ""
    label = ""
    needs_column = False  # the check reads one column (``Check.column``)
    default_operator = Operator.EQ
    default_threshold: float | None = 0.0

    def validate(self, check: Check, known_columns: set[str]) -> dict[str, str]:
        """Field errors for this type's params and columns; ``known_columns`` is empty when no schema is declared."""
        return {}

    def default_threshold_for(self, check: Check) -> float | None:
        return self.default_threshold

    def measures(self, check: Check, source: Source) -> dict[str, str]:
        return {}

    def extra_sql(self, check: Check, source: Source) -> str | None:
        return None

    def observed(self, check: Check, values: dict[str, Any], source: Source) -> float:
        raise NotImplementedError

    def failing_rows_sql(self, check: Check, source: Source, values: dict[str, Any]) -> str | None:
        return None

    def samples(self, check: Check, values: dict[str, Any], source: Source) -> list[dict] | None:
        """Samples that are not rows of the data (schema mismatches); None lets the engine run ``failing_rows_sql``."""
        return None


def number(value: Any, what: str) -> float:
    if value is None:
        raise CannotMeasure(f"The data gave no {what}.")
    try:
        return float(value)
    except (TypeError, ValueError):
        # The value's type only, never the value: a custom query may return a row's personal data.
        raise CannotMeasure(f"Expected a number for the {what}, got {type(value).__name__} instead.") from None


def rows_where(source: Source, condition: str) -> str:
    return f"SELECT * FROM {source.relation} WHERE {condition} LIMIT {SAMPLE_ROWS}"


class RowCount(CheckType):
    name, label = "row_count", "Row count"
    default_operator, default_threshold = Operator.GT, 0.0

    def measures(self, check, source):
        return {"rows": "COUNT(*)"}

    def observed(self, check, values, source):
        return number(values["rows"], "row count")


class MissingCount(CheckType):
    name, label = "missing_count", "Missing values (count)"
    needs_column = True

    def measures(self, check, source):
        return {"missing": f"COUNT(*) - COUNT({source.quote(check.column)})"}

    def observed(self, check, values, source):
        return number(values["missing"], "count of missing values")

    def failing_rows_sql(self, check, source, values):
        return rows_where(source, f"{source.quote(check.column)} IS NULL")


class MissingPercent(MissingCount):
    name, label = "missing_percent", "Missing values (%)"

    def measures(self, check, source):
        return {**super().measures(check, source), "rows": "COUNT(*)"}

    def observed(self, check, values, source):
        rows = number(values["rows"], "row count")
        if rows == 0:
            raise CannotMeasure("The output has no rows, so no share of them is missing.")
        return 100.0 * number(values["missing"], "count of missing values") / rows


class DuplicateCount(CheckType):
    """Rows whose key repeats an earlier row's: rows with a key minus distinct keys."""

    name, label = "duplicate_count", "Duplicate keys"

    def validate(self, check, known_columns):
        if not check.key_columns():
            return {"columns": "Name the key column(s) whose values must be unique."}
        return {}

    def grouped(self, check, source) -> bool:
        """Counted by a GROUP BY of the key on its own (one key, where the source prefers it), which also
        gives the first repeated keys: the samples are then fetched by those keys, without grouping again."""
        return source.groups_repeated_keys and len(check.key_columns()) == 1

    def measures(self, check, source):
        keys = [source.quote(name) for name in check.key_columns()]
        if self.grouped(check, source):
            return {}
        if len(keys) == 1:
            return {"dupes": f"COUNT({keys[0]}) - COUNT(DISTINCT {keys[0]})"}
        distinct = source.count_distinct(keys)
        return {"dupes": f"COUNT(*) - {distinct}"} if distinct else {}

    def extra_sql(self, check, source):
        keys = [source.quote(name) for name in check.key_columns()]
        if self.grouped(check, source):
            # Rows with a key minus distinct keys, as above: each repeated key adds its rows but one. The
            # SAMPLE_ROWS smallest repeated keys come along (DuckDB's min(value, n) lists the n smallest).
            key = keys[0]
            groups = f"SELECT {key} AS k, COUNT(*) AS n FROM {source.relation} WHERE {key} IS NOT NULL GROUP BY {key}"
            counted = f"CAST(COALESCE(SUM(n) - COUNT(*), 0) AS BIGINT) AS dupes, min(k, {SAMPLE_ROWS}) AS keys"
            return f"SELECT {counted} FROM ({groups}) g WHERE n > 1"
        if len(keys) == 1 or source.count_distinct(keys):
            return None
        # No row values in this dialect (SQLite): count the distinct keys in a second query.
        distinct = f"SELECT COUNT(*) FROM (SELECT DISTINCT {', '.join(keys)} FROM {source.relation}) d"
        return f"SELECT COUNT(*) - ({distinct}) FROM {source.relation}"

    def observed(self, check, values, source):
        return number(values.get("dupes", values.get("extra")), "count of duplicate keys")

    def failing_rows_sql(self, check, source, values):
        keys = [source.quote(name) for name in check.key_columns()]
        repeated_keys = values.get("extra_row", {}).get("keys") if self.grouped(check, source) else None
        if repeated_keys and all(type(key) in (int, str) for key in repeated_keys):
            # The same rows as the query below, by the keys already found: no second GROUP BY. Only keys that
            # come back from the database and are bound again as the same values (whole numbers, text). As
            # equalities, not IN (…): DuckDB then reads the key column alone and the other columns of the
            # rows kept only, where an IN list becomes a join over every column (0.07 s against 0.2 s).
            wanted = " OR ".join(f"{keys[0]} = {source.bind(key)}" for key in repeated_keys)
            return f"SELECT * FROM {source.relation} WHERE {wanted} ORDER BY {keys[0]} LIMIT {SAMPLE_ROWS}"
        listed = ", ".join(keys)
        joined = " AND ".join(f"r.{key} = d.{key}" for key in keys)
        # The first few repeated keys only, before the join: joining every repeated key to the whole
        # relation made PostgreSQL spill the grouping to disk in each parallel worker (bench/quality).
        repeated = (
            f"SELECT {listed} FROM {source.relation} GROUP BY {listed} HAVING COUNT(*) > 1 "
            f"ORDER BY {listed} LIMIT {SAMPLE_ROWS}"
        )
        order = ", ".join(f"r.{key}" for key in keys)
        return (
            f"SELECT r.* FROM {source.relation} r JOIN ({repeated}) d ON {joined} ORDER BY {order} LIMIT {SAMPLE_ROWS}"
        )


class InvalidCount(CheckType):
    """Non-null values outside ``allowed_values``, not fully matching ``regex`` or outside [``min``, ``max``]."""

    name, label = "invalid_count", "Invalid values"
    needs_column = True
    RULES = ("allowed_values", "regex", "min", "max")

    def validate(self, check, known_columns):
        params = check.params
        if not any(rule in params for rule in self.RULES):
            return {"params": "Give allowed_values, regex, min or max."}
        if "allowed_values" in params:
            allowed = params["allowed_values"]
            if not isinstance(allowed, list) or not allowed:
                return {"params": "allowed_values must be a non-empty list."}
        if "regex" in params:
            try:
                re.compile(str(params["regex"]))
            except re.error as exc:
                return {"params": f"regex does not compile: {exc}."}
        for bound in ("min", "max"):
            if bound in params and not isinstance(params[bound], int | float):
                return {"params": f"{bound} must be a number."}
        if "min" in params and "max" in params and params["min"] > params["max"]:
            return {"params": "min must not be greater than max."}
        return {}

    def condition(self, check: Check, source: Source) -> str:
        column, params = source.quote(check.column), check.params
        wrong = []
        if "allowed_values" in params:
            listed = ", ".join(source.bind(value) for value in params["allowed_values"])
            wrong.append(f"{column} NOT IN ({listed})")
        if "regex" in params:
            wrong.append(source.regex_mismatch(source.as_text(column), str(params["regex"])))
        if "min" in params:
            wrong.append(f"{column} < {source.bind(params['min'])}")
        if "max" in params:
            wrong.append(f"{column} > {source.bind(params['max'])}")
        return f"{column} IS NOT NULL AND ({' OR '.join(wrong)})"

    def measures(self, check, source):
        return {"invalid": f"COUNT(CASE WHEN {self.condition(check, source)} THEN 1 END)"}

    def observed(self, check, values, source):
        return number(values["invalid"], "count of invalid values")

    def failing_rows_sql(self, check, source, values):
        return rows_where(source, self.condition(check, source))


class Freshness(CheckType):
    """Age in hours of the newest value of a time column; passes by default within ``max_age_hours``."""

    name, label = "freshness", "Freshness"
    needs_column = True
    default_operator = Operator.LTE

    def validate(self, check, known_columns):
        max_age = check.params.get("max_age_hours")
        if max_age is None and check.threshold is None:
            return {"params": "Give max_age_hours (or a threshold in hours)."}
        if max_age is not None and (isinstance(max_age, bool) or not isinstance(max_age, int | float) or max_age <= 0):
            return {"params": "max_age_hours must be a number above 0."}
        return {}

    def default_threshold_for(self, check):
        return check.params.get("max_age_hours")

    def measures(self, check, source):
        return {"latest": source.epoch(f"MAX({source.quote(check.column)})")}

    def observed(self, check, values, source):
        latest = number(values["latest"], f"newest value of {check.column} (no rows, or all empty)")
        return round((time.time() - latest) / 3600, 3)


# Database and file types, by the words they contain, as the spec's data types. First match wins.
TYPE_WORDS = [
    ("timestamp", DataType.TIMESTAMP),
    ("datetime", DataType.TIMESTAMP),
    ("date", DataType.DATE),
    ("bool", DataType.BOOLEAN),
    ("int", DataType.INTEGER),
    ("decimal", DataType.DECIMAL),
    ("numeric", DataType.DECIMAL),
    ("double", DataType.FLOAT),
    ("float", DataType.FLOAT),
    ("real", DataType.FLOAT),
    ("char", DataType.STRING),
    ("text", DataType.STRING),
    ("string", DataType.STRING),
    ("uuid", DataType.STRING),
]
# Types the spec treats as the same (the demo writes decimals as doubles).
COMPATIBLE = {DataType.DECIMAL: DataType.FLOAT}


def spec_type(raw: str) -> str:
    """A database type (``BIGINT``, ``TIMESTAMP WITH TIME ZONE``, ``VARCHAR(20)``) as a spec data type."""
    lowered = raw.lower()
    return next((spec for word, spec in TYPE_WORDS if word in lowered), lowered)


class Schema(CheckType):
    """Mismatches between the expected columns and types (default: the output's declared schema) and the data's."""

    name, label = "schema", "Schema"

    def validate(self, check, known_columns):
        expected = check.params.get("columns")
        if expected is None:
            return {} if known_columns else {"params": "Declare the output's columns or give params.columns."}
        if not isinstance(expected, dict) or not expected:
            return {"params": "columns must map column names to data types."}
        unknown = sorted({str(kind) for kind in expected.values()} - set(DataType.values))
        if unknown:
            return {"params": f"Unknown data type(s) {', '.join(unknown)}; use {', '.join(DataType.values)}."}
        return {}

    def expected(self, check: Check) -> dict[str, str]:
        declared = check.params.get("columns")
        if declared:
            return dict(declared)
        return dict(check.output.columns.values_list("name", "data_type"))

    def mismatches(self, check: Check, source: Source) -> list[dict]:
        expected, actual = self.expected(check), {name: spec_type(raw) for name, raw in source.columns().items()}
        found = []
        for name, kind in expected.items():
            if name not in actual:
                found.append({"column": name, "problem": "missing", "expected": kind, "actual": None})
            elif COMPATIBLE.get(kind, kind) != COMPATIBLE.get(actual[name], actual[name]):
                found.append({"column": name, "problem": "wrong type", "expected": kind, "actual": actual[name]})
        for name in actual.keys() - expected.keys():
            found.append({"column": name, "problem": "unexpected", "expected": None, "actual": actual[name]})
        return found

    def observed(self, check, values, source):
        return float(len(self.mismatches(check, source)))

    def samples(self, check, values, source):
        return self.mismatches(check, source)


FORBIDDEN_SQL_WORDS = {
    "insert", "update", "delete", "merge", "upsert", "drop", "alter", "create", "truncate", "grant", "revoke",
    "into", "copy", "call", "do", "execute", "prepare", "attach", "detach", "install", "load", "pragma", "set", "reset",
    "vacuum", "analyze", "checkpoint", "export", "import", "lock", "listen", "notify", "begin", "commit", "rollback",
}  # fmt: skip


def validate_select(sql: str) -> None:
    """One read-only SELECT (or WITH … SELECT): no statement separator, no comments, no writing word."""
    text = sql.strip()
    if not text:
        raise ValidationError("Write the SELECT query.")
    if ";" in text:
        raise ValidationError("One SELECT only: semicolons are not allowed.")
    if "--" in text or "/*" in text:
        raise ValidationError("Comments are not allowed in custom SQL.")
    if not re.match(r"(?is)^\(*\s*(select|with)\b", text):
        raise ValidationError("Custom SQL must be a SELECT (or WITH … SELECT).")
    words = {word.lower() for word in re.findall(r"[A-Za-z_]+", re.sub(r"'(?:[^']|'')*'", "''", text))}
    refused = sorted(words & FORBIDDEN_SQL_WORDS)
    if refused:
        raise ValidationError(f"Custom SQL may only read; {', '.join(refused)} is not allowed.")


class CustomSQL(CheckType):
    """The single number an admin's SELECT returns. ``{table}`` in the query stands for the output."""

    name, label = "custom_sql", "Custom SQL (admins only)"

    def validate(self, check, known_columns):
        try:
            validate_select(str(check.params.get("sql", "")))
        except ValidationError as exc:
            return {"params": f"sql: {exc.messages[0]}"}
        return {}

    def extra_sql(self, check, source):
        return str(check.params["sql"]).replace(TABLE_PLACEHOLDER, source.relation)

    def observed(self, check, values, source):
        return number(values.get("extra"), "result of the query")


CHECK_TYPES: dict[str, CheckType] = {
    kind.name: kind
    for kind in (
        RowCount(),
        MissingCount(),
        MissingPercent(),
        DuplicateCount(),
        InvalidCount(),
        Freshness(),
        Schema(),
        CustomSQL(),
    )
}


def type_choices() -> list[tuple[str, str]]:
    return [(name, kind.label) for name, kind in CHECK_TYPES.items()]
