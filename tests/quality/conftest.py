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

import os
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import psycopg
import pytest
from django.db import connection as django_connection

from products import choices
from products.models import Connection
from tests import factories

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


def postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.split(":", 1)[0] in {"postgres", "postgresql"} else None


def add_schema(output, columns=COLUMNS) -> None:
    for order, (name, data_type, role, classification) in enumerate(columns):
        factories.OutputColumnFactory(
            output=output, name=name, data_type=data_type, role=role, classification=classification, order=order
        )


def make_connection(name: str, url: str) -> Connection:
    connection = Connection(name=name)
    connection.set_url(url)
    connection.save()
    return connection


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


@pytest.fixture
def pg_scratch(db):
    """A scratch schema in the test database, made and dropped outside the test's transaction."""
    url = postgres_url()
    if url is None:
        pytest.skip("DATABASE_URL does not point at PostgreSQL (CI sets it; locally: DATABASE_URL=postgres://…)")
    parts = urlsplit(url)
    test_url = urlunsplit(parts._replace(path="/" + django_connection.settings_dict["NAME"]))
    schema = f"scratch_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(test_url, autocommit=True) as db_conn:
        db_conn.execute(f'CREATE SCHEMA "{schema}"')
    yield test_url, schema
    with psycopg.connect(test_url, autocommit=True) as db_conn:
        db_conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


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
