"""Soda Core 3 (SodaCL) on the benchmark data, in its own virtualenv and process (started by bench_checks.py).

    .venvs/soda/bin/python run_soda.py --source parquet --path data/orders.parquet
    .venvs/soda/bin/python run_soda.py --source postgres --host 127.0.0.1 --port 5432 --user postgres --database …

A programmatic scan (``soda.scan.Scan``, what ``soda scan`` runs) with a configuration and a SodaCL
file as strings, no Soda Cloud:

* Parquet: the DuckDB data source given the file as its ``path`` (soda-core-duckdb's way to scan a
  file): on connecting, Soda copies the file into an in-memory DuckDB table named after the file.
* PostgreSQL: the Postgres data source; Soda sends SQL to the database.

The caller sets ``HOME`` to a folder whose ``.soda/config.yml`` turns usage telemetry off.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import spec

TYPES = {
    "parquet": {  # DuckDB's type names, lower case
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
METRIC_OF_CHECK = {  # by the start of the check's name in the scan results
    "row_count": "row_count",
    "missing_count": "missing_amount",
    "duplicate_count": "duplicate_order_id",
    "invalid_count": "invalid_region",
    "freshness": "freshness",
    "Schema": "schema",
}


def configuration(options) -> str:
    if options.source == "parquet":
        return f"data_source orders_file:\n  type: duckdb\n  path: {options.path}\n"
    return (
        "data_source warehouse:\n  type: postgres\n"
        f"  host: {options.host}\n  port: {options.port}\n  username: {options.user}\n  password: ''\n"
        f"  database: {options.database}\n  schema: public\n"
    )


def checks(source: str) -> str:
    dataset = Path(spec.TABLE).stem
    columns = ", ".join(spec.SPEC_TYPES)
    types = "\n".join(f"            {name}: {kind}" for name, kind in TYPES[source].items())
    return f"""checks for {dataset}:
  - row_count > 0
  - missing_count(amount) = 0
  - duplicate_count(order_id) = 0
  - invalid_count(region) = 0:
      valid values: [{", ".join(spec.ALLOWED_REGIONS)}]
  - freshness(ordered_at) < {spec.MAX_AGE_HOURS}h
  - schema:
      fail:
        when required column missing: [{columns}]
        when wrong column type:
{types}
"""


def run(options) -> dict:
    from soda.__version__ import SODA_CORE_VERSION
    from soda.scan import Scan

    scan = Scan()
    scan.set_scan_definition_name("lodestar-bench")
    scan.set_data_source_name("orders_file" if options.source == "parquet" else "warehouse")
    scan.add_configuration_yaml_str(configuration(options))
    scan.add_sodacl_yaml_str(checks(options.source))
    with spec.Stopwatch() as watch:
        scan.execute()
        results = scan.get_scan_results()
    observed, outcome, notes = {}, {}, []
    for check in results.get("checks", []):
        name = str(check.get("name"))
        metric = next((metric for start, metric in METRIC_OF_CHECK.items() if name.startswith(start)), name)
        diagnostics = check.get("diagnostics") or {}
        outcome[metric] = {"pass": "pass", "fail": "fail", "warn": "warn"}.get(check.get("outcome"), "error")
        if metric == "freshness":
            observed[metric] = diagnostics.get("maxColumnTimestampUtc") or diagnostics.get("maxColumnTimestamp")
        elif metric == "schema":
            mismatches = diagnostics.get("missing_column_names") or [], diagnostics.get("column_type_mismatches") or {}
            observed[metric] = sum(len(found) for found in mismatches)
        else:
            observed[metric] = diagnostics.get("value")
    for log in results.get("logs", []):
        if str(log.get("level")).lower() == "error":
            notes.append(str(log.get("message"))[:300])
    if not results.get("checks"):
        notes.append("no check results")
    return {
        "version": f"Soda Core {SODA_CORE_VERSION} ({'DuckDB' if options.source == 'parquet' else 'PostgreSQL'})",
        "check_s": watch.seconds,
        "observed": observed,
        "duplicate_meaning": "repeated_values",
        "outcome": outcome,
        "notes": notes,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", choices=["parquet", "postgres"], required=True)
    parser.add_argument("--path")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="5432")
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--database")
    options = parser.parse_args()
    spec.emit({"tool": "soda", "source": options.source, **run(options)})
