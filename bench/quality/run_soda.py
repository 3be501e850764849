"""Soda Core 4 (data contracts) on the benchmark data, in its own virtualenv and process (started by bench_checks.py).

    .venvs/soda/bin/python run_soda.py --source parquet --path data/orders.parquet
    .venvs/soda/bin/python run_soda.py --source postgres --host 127.0.0.1 --port 5432 --user postgres --database …

What a Soda 4 user writes: a data source configuration and a data contract, both YAML (kept here as
strings, written to files in the working folder), verified locally with
``soda_core.contracts.verify_contract_locally`` — what ``soda contract verify`` runs. No Soda Cloud.

* Parquet: ``soda-duckdb``'s data source given the file as its ``database`` (the way Soda's DuckDB
  reference documents for a Parquet file): on connecting, Soda copies the file into a DuckDB table
  named after the file, in memory, then queries that table. ``--parquet-view`` instead hands Soda an
  existing DuckDB connection (``DuckDBDataSource.from_existing_cursor``, the documented way for
  in-memory data) in which ``orders`` is a view over ``read_parquet``: DuckDB then scans the file.
* PostgreSQL: ``soda-postgres``'s data source (psycopg 3); Soda sends SQL to the database.

The caller sets ``SODA_CORE_TELEMETRY_ENABLED=false``: the machine has no network.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import spec

DATA_SOURCE = {"parquet": "orders_file", "postgres": "warehouse"}
TYPES = {
    "parquet": {  # DuckDB's type names
        "order_id": "bigint",
        "customer_email": "varchar",
        "region": "varchar",
        "amount": "double",
        "ordered_at": "timestamp with time zone",
    },
    "postgres": {
        "order_id": "bigint",
        "customer_email": "text",
        "region": "text",
        "amount": "double precision",
        "ordered_at": "timestamp with time zone",
    },
}
# The contract's checks, by (column, check type): the benchmark metric each one is.
METRIC_OF_CHECK = {
    (None, "row_count"): "row_count",
    ("amount", "missing"): "missing_amount",
    ("order_id", "duplicate"): "duplicate_order_id",
    ("region", "invalid"): "invalid_region",
    ("customer_email", "invalid"): "invalid_email",
    ("amount", "invalid"): "negative_amount",
    (None, "freshness"): "freshness",
    (None, "schema"): "schema",
}
OUTCOMES = {"PASSED": "pass", "FAILED": "fail", "WARN": "warn"}  # NOT_EVALUATED, EXCLUDED: an error here


def data_source_yaml(options) -> str:
    if options.source == "parquet":
        return f"type: duckdb\nname: {DATA_SOURCE['parquet']}\nconnection:\n  database: {json.dumps(options.path)}\n"
    return (
        f"type: postgres\nname: {DATA_SOURCE['postgres']}\nconnection:\n"
        f"  host: {options.host}\n  port: {options.port}\n  user: {options.user}\n  password: ''\n"
        f"  database: {options.database}\n"
    )


def dataset(options) -> str:
    """Soda's dataset identifier: data source / schema / table for DuckDB, data source / database / schema / table
    for PostgreSQL (with only a schema there, Soda takes it for the database and finds no columns)."""
    if options.source == "parquet":
        return f"{DATA_SOURCE['parquet']}/main/{spec.TABLE}"
    return f"{DATA_SOURCE['postgres']}/{options.database}/public/{spec.TABLE}"


def contract_yaml(options) -> str:
    """The benchmark's checks as a Soda 4 data contract; YAML is a superset of JSON, so values go in as JSON."""
    types = TYPES[options.source]
    return f"""dataset: {dataset(options)}

columns:
  - name: order_id
    data_type: {types["order_id"]}
    checks:
      - duplicate:
  - name: customer_email
    data_type: {types["customer_email"]}
    checks:
      - invalid:
          valid_format:
            name: email
            regex: {json.dumps(spec.EMAIL_REGEX)}
  - name: region
    data_type: {types["region"]}
    checks:
      - invalid:
          valid_values: {json.dumps(spec.ALLOWED_REGIONS)}
  - name: amount
    data_type: {types["amount"]}
    checks:
      - missing:
      - invalid:
          valid_min: {spec.MIN_AMOUNT}
  - name: ordered_at
    data_type: {types["ordered_at"]}

checks:
  - row_count:
      threshold:
        must_be_greater_than: 0
  - schema:
  - freshness:
      column: ordered_at
      threshold:
        unit: hour
        must_be_less_than_or_equal: {spec.MAX_AGE_HOURS}
"""


def parquet_view(path: str):
    """A DuckDB connection in which ``orders`` is a view over the file, handed to Soda as an existing cursor."""
    import duckdb
    from soda_duckdb import DuckDBDataSource

    connection = duckdb.connect(":memory:")
    connection.execute(f"CREATE VIEW {spec.TABLE} AS SELECT * FROM read_parquet({json.dumps(path)[1:-1]!r})")
    return DuckDBDataSource.from_existing_cursor(connection, name=DATA_SOURCE["parquet"])


def run(options) -> dict:
    from soda_core.__version__ import SODA_CORE_VERSION
    from soda_core.contracts import verify_contract_locally

    Path("contract.yml").write_text(contract_yaml(options))
    Path("data_source.yml").write_text(data_source_yaml(options))
    with spec.Stopwatch(memory=True) as watch:
        if options.parquet_view:
            where = {"data_sources": [parquet_view(options.path)]}
        else:
            where = {"data_source_file_path": "data_source.yml"}
        result = verify_contract_locally(contract_file_path="contract.yml", **where)
    observed, outcome, notes = {}, {}, []
    for verification in result.contract_verification_results:
        for check_result in verification.check_results:
            check = check_result.check
            metric = METRIC_OF_CHECK.get((check.column_name, check.type), f"{check.column_name}.{check.type}")
            outcome[metric] = OUTCOMES.get(check_result.outcome.name, "error")
            if metric == "freshness":
                newest = getattr(check_result, "max_timestamp_utc", None)
                observed[metric] = newest.isoformat() if newest else None
            else:  # the schema check's value counts missing, unexpected and wrongly typed columns
                observed[metric] = check_result.threshold_value
            if outcome[metric] == "error":
                notes.append(f"{metric}: {check_result.outcome.name} {check_result.diagnostic_metric_values}")
    notes += [error[:300] for error in result.get_errors()]
    if not outcome:
        notes.append("no check results")
    if options.source == "postgres":
        import psycopg

        driver = f"soda-postgres, psycopg {psycopg.__version__}"
    else:
        import duckdb

        driver = f"soda-duckdb{', a view' if options.parquet_view else ''}, DuckDB {duckdb.__version__}"
    return {
        "version": f"Soda Core {SODA_CORE_VERSION} ({driver})",
        "check_s": watch.seconds,
        "check_cpu_s": watch.cpu_seconds,
        "memory": watch.memory,
        "observed": observed,
        "duplicate_meaning": "extra_rows",
        "outcome": outcome,
        "notes": notes,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", choices=["parquet", "postgres"], required=True)
    parser.add_argument("--path")
    parser.add_argument("--parquet-view", action="store_true", help="hand Soda a DuckDB view over the file")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="5432")
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--database")
    options = parser.parse_args()
    spec.emit({"tool": "soda", "source": options.source, **run(options)})
