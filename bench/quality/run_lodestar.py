"""Lodestar's quality engine on the benchmark data, in a process of its own (started by bench_checks.py).

    run_lodestar.py prepare   # migrate the SQLite database in LODESTAR_VAR_DIR and add the two outputs and their checks
    run_lodestar.py run --source parquet|postgres

The settings are the real ones (``hub.settings``) with ``LODESTAR_DEMO=true``, a SQLite database in
``LODESTAR_VAR_DIR`` (a copy of the prepared one, made per run by the caller) and
``LODESTAR_DATA_ROOT`` pointing at the benchmark's data folder. A run does what ``manage.py
run_checks --output ID`` does for one output: ``run_checks_for_output`` (one aggregate query, then
failing-row samples for the checks that fail) and ``record_results``.
"""
# ruff: noqa: E402  (Django must be set up before the models are imported)

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path[:0] = [str(REPO), str(HERE)]

import spec

os.environ["DJANGO_SETTINGS_MODULE"] = "hub.settings"
os.environ["LODESTAR_DEMO"] = "true"
os.environ.pop("DATABASE_URL", None)  # the embedded SQLite database in LODESTAR_VAR_DIR
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django

django.setup()

from django.contrib.auth import get_user_model
from django.core.management import call_command

from products import choices
from products.models import Connection, DataProduct, Domain, Output, OutputColumn
from quality import checks as check_types
from quality.choices import Operator
from quality.engine import record_results, run_checks_for_output
from quality.models import Check

OUTPUTS = {"parquet": "orders_parquet", "postgres": "orders_table"}
METRIC_OF_CHECK = {
    "rows present": "row_count",
    "amount present": "missing_amount",
    "order_id unique": "duplicate_order_id",
    "region valid": "invalid_region",
    "email well-formed": "invalid_email",
    "amount not negative": "negative_amount",
    "fresh": "freshness",
    "schema matches the spec": "schema",
}
ROLES = {"order_id": "key", "customer_email": "attribute", "region": "dimension", "amount": "measure"}


def prepare(pg_url: str) -> None:
    call_command("migrate", verbosity=0)
    owner = get_user_model().objects.create_user("bench_owner", password="unused-in-the-bench")
    domain = Domain.objects.create(name="Sales", slug="sales")
    product = DataProduct.objects.create(
        slug="orders", name="Orders", domain=domain, owner=owner, status=choices.Status.PUBLISHED
    )
    connection = Connection(name="bench warehouse")
    connection.set_url(pg_url)
    connection.save()
    outputs = [
        Output(product=product, name=OUTPUTS["parquet"], kind=choices.OutputKind.FILE, format="parquet",
               path="orders.parquet"),
        Output(product=product, name=OUTPUTS["postgres"], kind=choices.OutputKind.TABLE, format="table", path="",
               connection=connection, table=f"public.{spec.TABLE}"),
    ]  # fmt: skip
    for output in outputs:
        output.full_clean()
        output.save()
        for order, (name, data_type) in enumerate(spec.SPEC_TYPES.items()):
            OutputColumn.objects.create(
                output=output, name=name, data_type=data_type, order=order,
                role=ROLES.get(name, "time"),
                classification="pii" if name in spec.PII_COLUMNS else "internal",
            )  # fmt: skip
        checks = {
            "rows present": {"check_type": "row_count", "operator": Operator.GT, "threshold": 0},
            "amount present": {"check_type": "missing_count", "column": "amount"},
            "order_id unique": {"check_type": "duplicate_count", "columns": ["order_id"]},
            "region valid": {
                "check_type": "invalid_count", "column": "region", "params": {"allowed_values": spec.ALLOWED_REGIONS},
            },
            "email well-formed": {
                "check_type": "invalid_count", "column": "customer_email", "params": {"regex": spec.EMAIL_REGEX},
            },
            "amount not negative": {
                "check_type": "invalid_count", "column": "amount", "params": {"min": spec.MIN_AMOUNT},
            },
            "fresh": {
                "check_type": "freshness", "column": "ordered_at", "params": {"max_age_hours": spec.MAX_AGE_HOURS},
            },
            "schema matches the spec": {"check_type": "schema"},  # the declared columns above
        }  # fmt: skip
        for name, values in checks.items():
            check = Check(output=output, name=name, **values)
            check.full_clean()
            check.save()


def clock_freshness() -> list[float]:
    """Note when the freshness check computes its age (after the shared query and earlier checks' samples).

    It reports an age in hours; the time it was taken at turns it back into the newest timestamp, to
    compare with the others'. A wrapper that only reads the clock: the check runs as it is.
    """
    calls: list[float] = []
    original = check_types.Freshness.observed

    def observed(self, check, values, source):
        calls.append(time.time())
        return original(self, check, values, source)

    check_types.Freshness.observed = observed
    return calls


def run(source: str) -> dict:
    output = Output.objects.select_related("product", "connection").get(name=OUTPUTS[source])
    checks = list(output.checks.filter(enabled=True))
    freshness_clock = clock_freshness()
    with spec.Stopwatch(memory=True) as watch:
        results = run_checks_for_output(output, checks)
    with spec.Stopwatch() as recording:  # what run_checks does next; the other tools store nothing
        record_results(results)
    observed, outcome, notes = {}, {}, []
    for result in results:
        metric = METRIC_OF_CHECK[result.check.name]
        outcome[metric] = result.status
        value = result.observed_value
        if result.status == "error":
            notes.append(f"{metric}: {result.error}")
        if metric == "freshness" and value is not None:
            # The engine reports the age in hours (3 decimals); give it back as the newest timestamp.
            taken = dt.datetime.fromtimestamp(freshness_clock[-1], dt.UTC)
            value = (taken - dt.timedelta(hours=value)).isoformat()
        observed[metric] = value
    import duckdb

    return {
        "version": f"Lodestar engine (DuckDB {duckdb.__version__}, SQLAlchemy + psycopg 3)",
        "check_s": watch.seconds,
        "check_cpu_s": watch.cpu_seconds,
        "memory": watch.memory,
        "observed": observed,
        "duplicate_meaning": "extra_rows",
        "outcome": outcome,
        "record_s": recording.seconds,
        # Every result's duration starts with the shared aggregate query; the quickest is (nearly) that alone.
        "aggregate_s": min(result.duration_ms for result in results) / 1000,
        "samples_rows": sum(len(result.samples) for result in results),
        "durations_ms": {METRIC_OF_CHECK[result.check.name]: result.duration_ms for result in results},
        "notes": notes,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["prepare", "run"])
    parser.add_argument("--source", choices=sorted(OUTPUTS))
    parser.add_argument("--pg-url")
    options = parser.parse_args()
    if options.command == "prepare":
        prepare(options.pg_url)
    else:
        spec.emit({"tool": "lodestar", "source": options.source, **run(options.source)})
