"""The orders data of the quality benchmark, as a Parquet file and as a PostgreSQL table, with planted flaws.

    .venv/bin/python bench/quality/make_orders.py --rows 10000000

Columns: ``order_id`` (bigint), ``customer_email`` (PII), ``region`` (text), ``amount`` (double) and
``ordered_at`` (timestamp with time zone, UTC). A fixed seed makes the same data every time; only
``ordered_at`` moves with the day the data is made (the newest order is an hour old then).

Flaws, the same in both copies:

* 1 row in 1,000 repeats the ``order_id`` of another row: each repeated id occurs exactly twice, so
  "rows minus distinct ids", "ids that occur more than once" and half of "rows whose id is not unique"
  are the same number;
* 1 row in 200 has no ``amount``;
* 1 row in 800 has a ``region`` outside the allowed set (a typo, ``unknown`` or an empty string);
  no region is missing;
* 1 row in 500 has a malformed ``customer_email`` (no ``@``, no dot in the domain, a space, two
  ``@``) that the benchmark's email regex rejects; no email is missing;
* 1 row in 2,500 has a negative ``amount`` (a refund written with the wrong sign), never one of the
  rows with no amount.

Every planted number differs from the others, so a tool that reports one check's count under
another's name cannot agree by chance.

The table is loaded with COPY into ``public.orders`` of the database ``lodestar_bench_quality`` (made if
missing), with no index and no key, then ``VACUUM ANALYZE``d, as autovacuum would after a bulk load.
A file ``<data>/orders.json`` records the row count and the planted numbers; both copies are rebuilt
when it says something else than the rows asked for, or was written by an older version of this
script (``DATA_VERSION``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import spec

if TYPE_CHECKING:
    import pyarrow as pa

# numpy, pyarrow, psycopg and duckdb are imported where they are used: bench_checks.py imports this
# module for its constants and must stay small, since every process it starts inherits its peak RSS.
HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
PARQUET = DATA / "orders.parquet"
MANIFEST = DATA / "orders.json"
DATABASE = "lodestar_bench_quality"
SERVER_URL = os.environ.get("BENCH_QUALITY_SERVER", "postgresql://postgres@127.0.0.1:5432")
DATABASE_URL = f"{SERVER_URL}/{DATABASE}"
TABLE = spec.TABLE
SEED = 20261122

REGIONS = spec.ALLOWED_REGIONS
INVALID_REGIONS = ["nrth", "unknown", ""]
COLUMNS = {  # name: (spec data type, PostgreSQL type)
    "order_id": ("integer", "bigint"),
    "customer_email": ("string", "text"),
    "region": ("string", "text"),
    "amount": ("float", "double precision"),
    "ordered_at": ("timestamp", "timestamp with time zone"),
}
MALFORMED_EMAILS = [  # each rejected by spec.EMAIL_REGEX in DuckDB (RE2), PostgreSQL and Python alike
    ("customer", ".example.com"),  # no @
    ("customer", "@example"),  # no dot in the domain
    ("customer ", "@example.com"),  # a space
    ("customer", "@@example.com"),  # two @
]
SPAN_DAYS = 30
DATA_VERSION = 2  # 2: malformed emails and negative amounts planted; regions 1 in 800


def make_table(rows: int, now: dt.datetime) -> tuple[pa.Table, dict]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng(SEED)
    order_id = np.arange(1, rows + 1, dtype=np.int64)
    duplicates = rows // 1000
    picked = rng.choice(rows, size=2 * duplicates, replace=False)
    # The first half takes the ids of the second: each of those ids now occurs twice.
    order_id[picked[:duplicates]] = order_id[picked[duplicates:]]

    customer = pa.array(rng.integers(1, max(rows // 4, 2), size=rows)).cast(pa.string())
    malformed = rows // 500
    bad_email = np.zeros(rows, dtype=bool)
    bad_email[rng.choice(rows, size=malformed, replace=False)] = True
    kind = np.arange(rows) % len(MALFORMED_EMAILS)  # which malformation a planted row gets
    prefix = np.array(["customer"] * rows, dtype=object)
    suffix = np.array(["@example.com"] * rows, dtype=object)
    prefix[bad_email] = np.array([before for before, _ in MALFORMED_EMAILS], dtype=object)[kind[bad_email]]
    suffix[bad_email] = np.array([after for _, after in MALFORMED_EMAILS], dtype=object)[kind[bad_email]]
    email = pc.binary_join_element_wise(
        pa.array(prefix, type=pa.string()), customer, pa.array(suffix, type=pa.string()), ""
    )

    region = np.array(REGIONS, dtype=object)[rng.integers(0, len(REGIONS), size=rows)]
    invalid = rows // 800
    where_invalid = rng.choice(rows, size=invalid, replace=False)
    region[where_invalid] = np.array(INVALID_REGIONS, dtype=object)[np.arange(invalid) % len(INVALID_REGIONS)]

    amount = np.round(rng.lognormal(mean=3.5, sigma=1.0, size=rows), 2)
    missing = rows // 200
    amount_mask = np.zeros(rows, dtype=bool)
    amount_mask[rng.choice(rows, size=missing, replace=False)] = True
    negative = rows // 2500
    present = np.flatnonzero(~amount_mask)
    amount[rng.choice(present, size=negative, replace=False)] *= -1

    newest = now.replace(microsecond=0) - dt.timedelta(hours=1)
    newest_us = int(newest.timestamp()) * 1_000_000
    offsets = rng.integers(0, SPAN_DAYS * 86_400, size=rows) * 1_000_000
    offsets[rng.integers(0, rows)] = 0  # one order at exactly the newest time
    ordered_at = pa.array(newest_us - offsets, type=pa.timestamp("us", tz="UTC"))

    table = pa.table(
        {
            "order_id": pa.array(order_id),
            "customer_email": email,
            "region": pa.array(region, type=pa.string()),
            "amount": pa.array(amount, mask=amount_mask),
            "ordered_at": ordered_at,
        }
    )
    planted = {
        "rows": rows,
        "missing_amount": missing,
        "duplicate_order_ids": duplicates,
        "invalid_regions": invalid,
        "malformed_emails": malformed,
        "negative_amounts": negative,
        "newest_ordered_at": newest.isoformat(),
        "made_at": now.isoformat(timespec="seconds"),
        "version": DATA_VERSION,
    }
    return table, planted


def write_parquet(table: pa.Table) -> None:
    import pyarrow.parquet as pq

    DATA.mkdir(parents=True, exist_ok=True)
    partial = PARQUET.with_suffix(".parquet.partial")
    pq.write_table(table, partial, row_group_size=1_000_000)
    partial.replace(PARQUET)


def ensure_database() -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))


def load_postgres(table: pa.Table) -> None:
    """COPY the rows in from a CSV file that pyarrow writes (far faster than rows through Python)."""
    import psycopg
    import pyarrow.csv as pa_csv

    ensure_database()
    listed = ", ".join(f"{name} {pg_type}" for name, (_, pg_type) in COLUMNS.items())
    with tempfile.TemporaryDirectory() as scratch:
        csv_path = Path(scratch) / "orders.csv"
        pa_csv.write_csv(table, csv_path, pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
        with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
            conn.execute(f"CREATE TABLE {TABLE} ({listed})")
            with conn.cursor() as cursor, cursor.copy(f"COPY {TABLE} FROM STDIN WITH (FORMAT csv)") as copy:
                with open(csv_path, "rb") as handle:
                    while block := handle.read(8 << 20):
                        copy.write(block)
            conn.execute(f"VACUUM ANALYZE {TABLE}")


def postgres_rows() -> int | None:
    import psycopg

    try:
        with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
            return conn.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0]
    except psycopg.Error:
        return None


def manifest() -> dict | None:
    try:
        return json.loads(MANIFEST.read_text())
    except (OSError, ValueError):
        return None


def ensure(rows: int, rebuild: bool = False, log=print) -> dict:
    """The data for ``rows`` rows, built unless both copies already hold it; returns the manifest."""
    found = manifest()
    current = found and found["rows"] == rows and found.get("version") == DATA_VERSION
    if not rebuild and current and PARQUET.is_file() and postgres_rows() == rows:
        return found
    started = time.perf_counter()
    log(f"Making {rows:,} orders…")
    table, planted = make_table(rows, dt.datetime.now(dt.UTC))
    write_parquet(table)
    log(f"  {PARQUET.relative_to(HERE.parent.parent)}: {PARQUET.stat().st_size / 2**20:,.0f} MiB")
    load_postgres(table)
    log(f"  {DATABASE}.public.{TABLE} loaded and vacuumed ({time.perf_counter() - started:,.0f} s in all)")
    MANIFEST.write_text(json.dumps(planted, indent=2) + "\n")
    return planted


def reference() -> dict:
    """The numbers each check should find, counted by DuckDB from the file, independently of every tool."""
    import duckdb

    allowed = ", ".join(f"'{region}'" for region in spec.ALLOWED_REGIONS)
    sql = f"""
        WITH ids AS (SELECT order_id, COUNT(*) AS n FROM read_parquet($path) WHERE order_id IS NOT NULL GROUP BY 1)
        SELECT
            (SELECT COUNT(*) FROM read_parquet($path)),
            (SELECT COUNT(*) - COUNT(amount) FROM read_parquet($path)),
            (SELECT SUM(n) - COUNT(*) FROM ids),
            (SELECT COUNT(*) FROM ids WHERE n > 1),
            (SELECT COALESCE(SUM(n), 0) FROM ids WHERE n > 1),
            (SELECT COUNT(*) FROM read_parquet($path) WHERE region IS NOT NULL AND region NOT IN ({allowed})),
            (SELECT COUNT(*) FROM read_parquet($path)
             WHERE customer_email IS NOT NULL AND NOT regexp_full_match(customer_email, $regex)),
            (SELECT COUNT(*) FROM read_parquet($path) WHERE amount < $minimum),
            (SELECT epoch(MAX(ordered_at)) FROM read_parquet($path))
    """
    params = {"path": str(PARQUET), "regex": spec.EMAIL_REGEX, "minimum": spec.MIN_AMOUNT}
    row = duckdb.connect().execute(sql, params).fetchone()
    *counts, newest = row
    rows, missing, extra, repeated, grouped, invalid, emails, negative = (int(value) for value in counts)
    return {
        "row_count": rows,
        "missing_amount": missing,
        "duplicate_order_id": {"extra_rows": extra, "repeated_values": repeated, "rows_in_repeated_groups": grouped},
        "invalid_region": invalid,
        "invalid_email": emails,
        "negative_amount": negative,
        "freshness": dt.datetime.fromtimestamp(newest, dt.UTC).isoformat(),
        "schema": 0,
    }


def server_version() -> str:
    import psycopg

    with psycopg.connect(DATABASE_URL) as conn:
        return conn.execute("SHOW server_version").fetchone()[0].split()[0]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--rebuild", action="store_true", help="make both copies again even if they hold the rows")
    parser.add_argument("--reference", action="store_true", help="also count the reference values (one JSON line)")
    options = parser.parse_args()
    made = ensure(options.rows, options.rebuild, log=lambda message: print(message, file=sys.stderr, flush=True))
    if options.reference:
        print(json.dumps({"manifest": made, "reference": reference(), "postgres": server_version()}))
    else:
        print(json.dumps(made, indent=2))
