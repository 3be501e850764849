"""Great Expectations (GX Core 1.x) on the benchmark data, in its own virtualenv and process (from bench_checks.py).

    .venvs/gx/bin/python run_gx.py --source parquet --path data/orders.parquet
    .venvs/gx/bin/python run_gx.py --source postgres --url postgresql://…

What a GX user would write, with an ephemeral context:

* Parquet: the pandas data source (``context.data_sources.add_pandas(...).add_parquet_asset``), which
  reads the whole file into a DataFrame. GX Core 1.x has no DuckDB data source, and Spark is not
  installed here.
* PostgreSQL: the Postgres (SQL) data source, a whole-table batch: GX sends SQL to the database.

One expectation suite, validated with ``batch.validate`` and the default result format (SUMMARY,
which also collects up to 20 unexpected values per expectation). The schema check is
``ExpectTableColumnsToMatchSet`` plus one ``ExpectColumnValuesToBeOfType`` per column, with the type
names of the source (pandas dtypes, SQLAlchemy type names).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import spec

TYPES = {
    "parquet": {  # pandas dtypes after pyarrow's read_parquet
        "order_id": "int64",
        "customer_email": "str",
        "region": "str",
        "amount": "float64",
        "ordered_at": "Timestamp",  # GX names the type of the values here
    },
    "postgres": {  # SQLAlchemy type names
        "order_id": "BIGINT",
        "customer_email": "TEXT",
        "region": "TEXT",
        "amount": "DOUBLE PRECISION",
        "ordered_at": "TIMESTAMP WITH TIME ZONE",
    },
}


def suite(gx, gxe, source: str, now: dt.datetime):
    found = gx.ExpectationSuite(name="orders")
    found.add_expectation(gxe.ExpectTableRowCountToBeBetween(min_value=1))
    found.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column="amount"))
    found.add_expectation(gxe.ExpectColumnValuesToBeUnique(column="order_id"))
    found.add_expectation(gxe.ExpectColumnValuesToBeInSet(column="region", value_set=spec.ALLOWED_REGIONS))
    found.add_expectation(gxe.ExpectColumnValuesToMatchRegex(column="customer_email", regex=spec.EMAIL_REGEX))
    found.add_expectation(gxe.ExpectColumnValuesToBeBetween(column="amount", min_value=spec.MIN_AMOUNT))
    found.add_expectation(
        gxe.ExpectColumnMaxToBeBetween(column="ordered_at", min_value=now - dt.timedelta(hours=spec.MAX_AGE_HOURS))
    )
    found.add_expectation(gxe.ExpectTableColumnsToMatchSet(column_set=list(spec.SPEC_TYPES), exact_match=True))
    for column, type_ in TYPES[source].items():
        found.add_expectation(gxe.ExpectColumnValuesToBeOfType(column=column, type_=type_))
    return found


def batch_for(context, source: str, options):
    if source == "parquet":
        asset = context.data_sources.add_pandas("files").add_parquet_asset("orders", path=options.path)
        return asset.add_batch_definition_whole_dataframe("all rows").get_batch()
    datasource = context.data_sources.add_postgres("warehouse", connection_string=options.url)
    asset = datasource.add_table_asset("orders", table_name=spec.TABLE)
    return asset.add_batch_definition_whole_table("all rows").get_batch()


def run(options) -> dict:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    context = gx.get_context(mode="ephemeral")
    with spec.Stopwatch(memory=True) as watch:
        now = dt.datetime.now(dt.UTC)
        batch = batch_for(context, options.source, options)
        validation = batch.validate(suite(gx, gxe, options.source, now))
    observed, outcome, notes, schema_failures, schema_errors = {}, {}, [], 0, 0
    for result in validation.results:
        config, details = result.expectation_config, result.result or {}
        kind = config.type
        errored = bool(result.exception_info and result.exception_info.get("raised_exception"))
        if kind in ("expect_table_columns_to_match_set", "expect_column_values_to_be_of_type"):
            schema_failures += 0 if result.success else 1
            schema_errors += 1 if errored else 0
            if not result.success:
                message = (result.exception_info or {}).get("exception_message")
                notes.append(f"schema: {kind}({config.kwargs.get('column', '')}) failed: {message or details}")
            continue
        metric, value = {
            "expect_table_row_count_to_be_between": ("row_count", details.get("observed_value")),
            "expect_column_values_to_not_be_null": ("missing_amount", details.get("unexpected_count")),
            "expect_column_values_to_be_unique": ("duplicate_order_id", details.get("unexpected_count")),
            "expect_column_values_to_be_in_set": ("invalid_region", details.get("unexpected_count")),
            "expect_column_values_to_match_regex": ("invalid_email", details.get("unexpected_count")),
            "expect_column_values_to_be_between": ("negative_amount", details.get("unexpected_count")),
            "expect_column_max_to_be_between": ("freshness", details.get("observed_value")),
        }[kind]
        observed[metric] = value
        outcome[metric] = "error" if errored else ("pass" if result.success else "fail")
        if errored:
            notes.append(f"{metric}: {result.exception_info.get('exception_message')}")
    observed["schema"] = schema_failures
    outcome["schema"] = "error" if schema_errors else ("pass" if not schema_failures else "fail")
    return {
        "version": f"GX Core {gx.__version__} ({'pandas' if options.source == 'parquet' else 'SQL'} data source)",
        "check_s": watch.seconds,
        "check_cpu_s": watch.cpu_seconds,
        "memory": watch.memory,
        "observed": observed,
        "duplicate_meaning": "rows_in_repeated_groups",
        "outcome": outcome,
        "notes": notes,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", choices=["parquet", "postgres"], required=True)
    parser.add_argument("--path")
    parser.add_argument("--url")
    options = parser.parse_args()
    spec.emit({"tool": "gx", "source": options.source, **run(options)})
