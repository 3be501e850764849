"""Databases the tests' outputs live in: a connection row, and a scratch PostgreSQL schema.

Shared by the quality engine's tests and the delivery tests, which read the same kinds of table.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from django.db import connection as django_connection

from products.models import Connection


def postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.split(":", 1)[0] in {"postgres", "postgresql"} else None


def make_connection(name: str, url: str) -> Connection:
    connection = Connection(name=name)
    connection.set_url(url)
    connection.save()
    return connection


@pytest.fixture
def pg_scratch(db):
    """A scratch schema in the test database, made and dropped outside the test's transaction."""
    url = postgres_url()
    if url is None:
        pytest.skip("DATABASE_URL does not point at PostgreSQL (CI sets it; locally: DATABASE_URL=postgres://…)")
    test_url = urlunsplit(urlsplit(url)._replace(path="/" + django_connection.settings_dict["NAME"]))
    schema = f"scratch_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(test_url, autocommit=True) as db_conn:
        db_conn.execute(f'CREATE SCHEMA "{schema}"')
    yield test_url, schema
    with psycopg.connect(test_url, autocommit=True) as db_conn:
        db_conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
