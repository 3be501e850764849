"""Known sales rows for the delivery tests, written as Parquet, CSV, a SQLite table or a PostgreSQL table.

    order_id  email                     phone              region  amount
    1         ann@example.com           +44 20 7946 0001   North    10.0
    2         canary.pii@example.com    +44 20 7946 0999   North    25.5   ← the canary
    3         =cmd|' /C calc'!A0        +44 20 7946 0003   South    -3.0   ← a formula
    ...       (12 rows: North 5, South 3, East 2, West 1, none 1)

email is PII masked ``partial``, phone PII masked ``hash``; region and amount are internal.
Expected rows are computed from the file by SQL (DuckDB) in the tests, never by hand.
"""

from __future__ import annotations

import sqlite3

import duckdb
import pandas as pd
import psycopg
import pytest

from products import choices
from products.demo.datasets import CANARY_EMAIL, CANARY_PHONE
from tests import factories
from tests.scratch_databases import make_connection, pg_scratch  # noqa: F401 (pg_scratch: a fixture)

EMAILS = [
    "ann@example.com", CANARY_EMAIL, "=cmd|' /C calc'!A0", "dan@example.org", "eve@example.net", "fay@example.com",
    "gus@example.com", None, "ivy@example.com", "jon@example.com", "kim@example.com", "lee@example.com",
]  # fmt: skip
REGIONS = ["North", "North", "South", "East", "North", "West", "South", "North", "East", None, "South", "North"]
COLUMNS = [
    ("order_id", "integer", "key", "internal", "redact"),
    ("email", "string", "attribute", "pii", "partial"),
    ("phone", "string", "attribute", "pii", "hash"),
    ("region", "string", "dimension", "internal", "redact"),
    ("amount", "float", "measure", "internal", "redact"),
]
BACKENDS = ["parquet", "csv", "sqlite", "postgresql"]


def sales_frame() -> pd.DataFrame:
    n = len(EMAILS)
    phones = [f"+44 20 7946 {i:04d}" for i in range(1, n + 1)]
    phones[1] = CANARY_PHONE
    return pd.DataFrame(
        {
            "order_id": list(range(1, n + 1)),
            "email": EMAILS,
            "phone": phones,
            "region": REGIONS,
            "amount": [10.0, 25.5, -3.0, 4.0, 7.25, 100.0, 0.5, 12.0, 9.0, 1.0, 2.0, 3.0],
        }
    )


def add_schema(output) -> None:
    for order, (name, data_type, role, classification, masking) in enumerate(COLUMNS):
        factories.OutputColumnFactory(
            output=output, name=name, data_type=data_type, role=role, classification=classification,
            masking=masking, order=order,
        )  # fmt: skip


def write_table(frame: pd.DataFrame, execute, placeholder: str, table: str) -> None:
    execute(f"CREATE TABLE {table} (order_id bigint, email text, phone text, region text, amount double precision)")
    marks = ", ".join([placeholder] * 5)
    for row in frame.itertuples(index=False):
        execute(f"INSERT INTO {table} VALUES ({marks})", tuple(None if pd.isna(v) else v for v in row))


def sales_output(request, product, data_root, backend: str, name: str = "sales"):
    """The known rows as an output of ``product`` on ``backend``; also writes a Parquet copy for ground truth."""
    frame = sales_frame()
    truth = data_root / f"truth-{name}.parquet"
    frame.to_parquet(truth)
    if backend in {"parquet", "csv"}:
        path = data_root / "sales" / f"{name}.{backend}"
        path.parent.mkdir(exist_ok=True)
        frame.to_parquet(path) if backend == "parquet" else frame.to_csv(path, index=False)
        output = factories.OutputFactory(product=product, name=name, format=backend, path=f"sales/{name}.{backend}")
    elif backend == "sqlite":
        with sqlite3.connect(data_root / "warehouse.db") as db:
            write_table(frame, db.execute, "?", name)
        connection = make_connection(f"warehouse-{name}", "sqlite:///warehouse.db")
        output = factories.OutputFactory(
            product=product, name=name, kind="table", format="table", path="", connection=connection, table=name
        )
    else:
        url, schema = request.getfixturevalue("pg_scratch")
        with psycopg.connect(url, autocommit=True) as db_conn:
            write_table(frame, db_conn.execute, "%s", f'"{schema}".{name}')
        connection = make_connection(f"scratch-{name}", url)
        output = factories.OutputFactory(
            product=product, name=name, kind=choices.OutputKind.TABLE, format="table", path="",
            connection=connection, table=f"{schema}.{name}",
        )  # fmt: skip
    add_schema(output)
    output.truth_path = truth
    return output


def ground_truth(output, where: str = "", params: list | None = None, order: str = "order_id") -> list[int]:
    """The order ids SQL itself selects from the known rows (DuckDB over the Parquet copy)."""
    sql = f"SELECT order_id FROM read_parquet(?) {('WHERE ' + where) if where else ''} ORDER BY {order}"
    with duckdb.connect() as db:
        return [row[0] for row in db.execute(sql, [str(output.truth_path), *(params or [])]).fetchall()]


@pytest.fixture(params=BACKENDS)
def any_sales(request, product, data_root):
    return sales_output(request, product, data_root, request.param)


@pytest.fixture
def sales(request, product, data_root):
    return sales_output(request, product, data_root, "parquet")
