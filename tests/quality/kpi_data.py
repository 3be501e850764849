"""Eight hand-made events for KPI tests, written the same way to every backend the engine reads.

See ``test_kpi_engine`` for the events and the values they give by hand.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pandas as pd
import psycopg

from products import choices
from tests import factories
from tests.scratch_databases import make_connection

BERLIN = "Europe/Berlin"
EVENTS = [
    ("u1", datetime(2024, 1, 1, 9, 0), 10.0, "North", "buy"),
    ("u2", datetime(2024, 1, 1, 23, 30), 20.0, "South", "buy"),
    ("u1", datetime(2024, 1, 2, 10, 0), 5.0, "North", "view"),
    ("u3", datetime(2024, 1, 7, 22, 59), 7.0, "North", "buy"),
    ("u3", datetime(2024, 1, 7, 23, 30), 3.0, None, "buy"),
    ("u2", datetime(2024, 1, 31, 23, 30), 40.0, "South", "buy"),
    ("u4", datetime(2024, 2, 15, 12, 0), None, "North", "buy"),
    ("u1", datetime(2024, 3, 4, 8, 0), 100.0, "North", "buy"),
]
COLUMNS = [
    ("user_id", "string", "key"),
    ("ts", "timestamp", "time"),
    ("amount", "float", "measure"),
    ("region", "string", "dimension"),
    ("kind", "string", "dimension"),
]
# Long after the data: no period is partial unless a test says when "now" is.
LATER = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
BACKENDS = ["parquet", "csv", "sqlite", "postgresql"]


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": [event[0] for event in EVENTS],
            "ts": pd.to_datetime([event[1] for event in EVENTS]).tz_localize("UTC"),
            "amount": [event[2] for event in EVENTS],
            "region": [event[3] for event in EVENTS],
            "kind": [event[4] for event in EVENTS],
        }
    )


def table_rows() -> list[tuple]:
    return [(user, ts.strftime("%Y-%m-%d %H:%M:%S"), amount, region, kind) for user, ts, amount, region, kind in EVENTS]


def write_output(backend: str, product, data_root, request):
    if backend in ("parquet", "csv"):
        path = data_root / f"events.{backend}"
        frame().to_parquet(path) if backend == "parquet" else frame().to_csv(path, index=False)
        output = factories.OutputFactory(product=product, name="events", format=backend, path=f"events.{backend}")
    elif backend == "sqlite":
        with sqlite3.connect(data_root / "warehouse.db") as db:
            db.execute("CREATE TABLE events (user_id TEXT, ts TIMESTAMP, amount REAL, region TEXT, kind TEXT)")
            db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", table_rows())
        output = factories.OutputFactory(
            product=product, name="events", kind=choices.OutputKind.TABLE, format="table", path="",
            connection=make_connection("warehouse", "sqlite:///warehouse.db"), table="events",
        )  # fmt: skip
    else:
        url, schema = request.getfixturevalue("pg_scratch")
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(
                f'CREATE TABLE "{schema}".events (user_id text, ts timestamptz, amount double precision, '
                "region text, kind text)"
            )
            with db.cursor() as cursor:
                cursor.executemany(
                    f'INSERT INTO "{schema}".events VALUES (%s, %s, %s, %s, %s)',
                    [(user, ts.replace(tzinfo=UTC), amount, region, kind) for user, ts, amount, region, kind in EVENTS],
                )
        output = factories.OutputFactory(
            product=product, name="events", kind=choices.OutputKind.TABLE, format="table", path="",
            connection=make_connection("scratch", url), table=f"{schema}.events",
        )  # fmt: skip
    for order, (name, data_type, role) in enumerate(COLUMNS):
        factories.OutputColumnFactory(output=output, name=name, data_type=data_type, role=role, order=order)
    return output


def make_kpi(output, **fields):
    values = {"aggregation": "count_distinct", "column": "user_id", "time_column": "ts", "grain": "day"} | fields
    kpi = factories.KPIFactory(product=output.product, output=output, **values)
    kpi.full_clean()
    return kpi
