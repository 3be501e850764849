"""Known data for the check engine, written the same way to every backend it reads.

Six rows whose flaws are counted by hand:

    id     email         amount  status  ts (hours ago)
    1      a@x.com         10.0  ok      30
    2      b@x.com         -5.0  ok      20
    2      bad              3.5  late    15
    3      None            None  ok      12
    4      c at x.com       0.0  lost    11
    None   d@x.com        120.0  ok      10

row_count 6 · missing id 1 · missing email 1 (16.67 %) · duplicate id 1 · invalid email (regex) 2 ·
amount < 0: 1 · amount > 100: 1 · status not in (ok, late): 1 · newest ts 10 hours old.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pandas as pd
import psycopg
import pytest

from products import choices
from tests import factories
from tests.scratch_databases import make_connection, pg_scratch, postgres_url  # noqa: F401 (pg_scratch: a fixture)

HOURS_AGO = [30, 20, 15, 12, 11, 10]
COLUMNS = [
    ("id", "integer", "key", "internal"),
    ("email", "string", "attribute", "pii"),
    ("amount", "float", "measure", "internal"),
    ("status", "string", "dimension", "internal"),
    ("ts", "timestamp", "time", "internal"),
]
BACKENDS = ["parquet", "csv", "sqlite", "postgresql"]


def known_frame(now: datetime) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": pd.array([1, 2, 2, 3, 4, None], dtype="Int64"),
            "email": ["a@x.com", "b@x.com", "bad", None, "c at x.com", "d@x.com"],
            "amount": [10.0, -5.0, 3.5, None, 0.0, 120.0],
            "status": ["ok", "ok", "late", "ok", "lost", "ok"],
            "ts": [now - timedelta(hours=hours) for hours in HOURS_AGO],
        }
    )


def add_schema(output, columns=COLUMNS) -> None:
    for order, (name, data_type, role, classification) in enumerate(columns):
        factories.OutputColumnFactory(
            output=output, name=name, data_type=data_type, role=role, classification=classification, order=order
        )


def write_sqlite(path, frame: pd.DataFrame, table: str = "known") -> None:
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE {table} (id INTEGER, email TEXT, amount REAL, status TEXT, ts TIMESTAMP)")
        rows = [
            (
                None if pd.isna(row.id) else int(row.id),
                None if pd.isna(row.email) else row.email,
                None if pd.isna(row.amount) else row.amount,
                row.status,
                row.ts.strftime("%Y-%m-%d %H:%M:%S"),
            )
            for row in frame.itertuples()
        ]
        db.executemany(f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?)", rows)


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def write_postgres(url: str, schema: str, frame: pd.DataFrame) -> None:
    with psycopg.connect(url, autocommit=True) as db_conn:
        db_conn.execute(
            f'CREATE TABLE "{schema}".known (id bigint, email text, amount double precision, status text, '
            "ts timestamptz)"
        )
        with db_conn.cursor() as cursor:
            cursor.executemany(
                f'INSERT INTO "{schema}".known VALUES (%s, %s, %s, %s, %s)',
                [
                    (
                        None if pd.isna(row.id) else int(row.id),
                        None if pd.isna(row.email) else row.email,
                        None if pd.isna(row.amount) else row.amount,
                        row.status,
                        row.ts.to_pydatetime(),
                    )
                    for row in frame.itertuples()
                ],
            )


@pytest.fixture
def known_output(request, product, data_root, now):
    """The known rows as an output of ``product``, on the backend named by the test's ``backend`` parameter."""
    backend = getattr(request, "param", "parquet")
    frame = known_frame(now)
    if backend in {"parquet", "csv"}:
        path = data_root / "known" / f"known.{backend}"
        path.parent.mkdir()
        frame.to_parquet(path) if backend == "parquet" else frame.to_csv(path, index=False)
        output = factories.OutputFactory(product=product, name="known", format=backend, path=f"known/known.{backend}")
    elif backend == "sqlite":
        write_sqlite(data_root / "warehouse.db", frame)
        connection = make_connection("warehouse", "sqlite:///warehouse.db")
        output = factories.OutputFactory(
            product=product, name="known", kind=choices.OutputKind.TABLE, format="table", path="",
            connection=connection, table="known",
        )  # fmt: skip
    else:
        url, schema = request.getfixturevalue("pg_scratch")
        write_postgres(url, schema, frame)
        connection = make_connection("scratch", url)
        output = factories.OutputFactory(
            product=product, name="known", kind=choices.OutputKind.TABLE, format="table", path="",
            connection=connection, table=f"{schema}.known",
        )  # fmt: skip
    add_schema(output)
    return output


@pytest.fixture
def events(product, data_root, settings, request):
    """The eight known events of ``tests.quality.kpi_data`` as a Parquet output of ``product``, KPIs in Berlin time."""
    from tests.quality.kpi_data import BERLIN, write_output

    settings.LODESTAR_KPI_TIME_ZONE = BERLIN
    return write_output("parquet", product, data_root, request)
