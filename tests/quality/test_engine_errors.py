"""A source that cannot be reached is an error, never a fail; custom SQL cannot write."""

import sqlite3

import pytest

from products import choices
from quality.engine import run_checks_for_output
from quality.models import Check
from tests import factories
from tests.quality.conftest import make_connection

pytestmark = pytest.mark.django_db


def table_output(product, connection, table: str):
    return factories.OutputFactory(
        product=product, name="remote", kind=choices.OutputKind.TABLE, format="table", path="",
        connection=connection, table=table,
    )  # fmt: skip


def test_a_missing_file_makes_every_check_an_error(product):
    output = factories.OutputFactory(product=product, name="gone", path="nowhere/gone.parquet")
    factories.CheckFactory(output=output, name="rows", check_type="row_count")
    factories.CheckFactory(output=output, name="ids", check_type="missing_count", column="id")
    results = run_checks_for_output(output)
    assert [result.status for result in results] == ["error", "error"]
    assert all("nowhere/gone.parquet does not exist" in result.error for result in results)
    assert all(result.observed_value is None for result in results)


def test_a_corrupt_file_is_an_error(product, data_root):
    (data_root / "broken.parquet").write_bytes(b"not parquet at all")
    output = factories.OutputFactory(product=product, name="broken", path="broken.parquet")
    factories.CheckFactory(output=output, name="rows", check_type="row_count")
    [result] = run_checks_for_output(output)
    assert result.status == "error" and result.error


def test_an_unreachable_database_is_an_error(product):
    connection = make_connection("down", "postgresql://nobody@127.0.0.1:9/warehouse?connect_timeout=2")
    output = table_output(product, connection, "sales.orders")
    factories.CheckFactory(output=output, name="rows", check_type="row_count")
    [result] = run_checks_for_output(output)
    assert result.status == "error"
    assert result.error.startswith("Cannot connect to down")


def test_a_missing_table_is_an_error(product, data_root):
    sqlite3.connect(data_root / "empty.db").close()
    output = table_output(product, make_connection("empty", "sqlite:///empty.db"), "orders")
    factories.CheckFactory(output=output, name="rows", check_type="row_count")
    factories.CheckFactory(output=output, name="schema", check_type="schema", params={"columns": {"id": "integer"}})
    results = run_checks_for_output(output)
    assert [result.status for result in results] == ["error", "error"]
    assert "no such table" in results[0].error


def test_one_broken_check_does_not_take_the_others_down(known_output):
    factories.CheckFactory(output=known_output, name="rows", check_type="row_count")
    # Saved without validation, as if the column was renamed in the data after the check was written.
    factories.CheckFactory(output=known_output, name="gone", check_type="missing_count", column="renamed")
    results = {result.check.name: result for result in run_checks_for_output(known_output)}
    assert (results["rows"].status, results["rows"].observed_value) == ("pass", 6)
    assert results["gone"].status == "error" and "renamed" in results["gone"].error


def write_check(output, sql: str) -> Check:
    # Saved without validation: as if a write slipped past validate_select.
    return factories.CheckFactory(output=output, name="sneaky", check_type="custom_sql", params={"sql": sql})


@pytest.mark.parametrize("known_output", ["sqlite"], indirect=True)
def test_custom_sql_cannot_write_to_sqlite(known_output, data_root):
    write_check(known_output, "DELETE FROM known")
    [result] = run_checks_for_output(known_output)
    assert result.status == "error"
    assert "readonly" in result.error.replace(" ", "").lower() or "read-only" in result.error
    with sqlite3.connect(data_root / "warehouse.db") as db:
        assert db.execute("SELECT COUNT(*) FROM known").fetchone() == (6,)


@pytest.mark.parametrize("known_output", ["postgresql"], indirect=True)
def test_custom_sql_cannot_write_to_postgresql(known_output, pg_scratch):
    import psycopg

    url, schema = pg_scratch
    write_check(known_output, f'WITH gone AS (DELETE FROM "{schema}".known RETURNING 1) SELECT COUNT(*) FROM gone')
    [result] = run_checks_for_output(known_output)
    assert result.status == "error"
    assert "read-only transaction" in result.error
    with psycopg.connect(url) as db:
        assert db.execute(f'SELECT COUNT(*) FROM "{schema}".known').fetchone() == (6,)


@pytest.mark.parametrize("known_output", ["postgresql"], indirect=True)
def test_checks_run_as_the_connections_read_only_role(known_output, pg_scratch):
    """With a check role, the checks see only what that role may read, whoever the URL's user is."""
    import uuid

    import psycopg

    url, schema = pg_scratch
    role = f"lodestar_reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f'CREATE TABLE "{schema}".secrets (id int)')
        db.execute(f"CREATE ROLE {role} NOLOGIN")
        db.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}')
        db.execute(f'GRANT SELECT ON "{schema}".known TO {role}')
    try:
        connection = known_output.connection
        connection.check_role = role
        connection.save()
        as_role = write_check(known_output, f"SELECT COUNT(*) FROM {{table}} WHERE current_user = '{role}'")
        secrets = factories.CheckFactory(
            output=known_output, name="secrets", check_type="custom_sql",
            params={"sql": f'SELECT COUNT(*) FROM "{schema}".secrets'},
        )  # fmt: skip
        results = {result.check: result for result in run_checks_for_output(known_output, [as_role, secrets])}
        assert results[as_role].observed_value == 6  # every row, read as the role
        assert results[secrets].status == "error" and "permission denied" in results[secrets].error
    finally:
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(f'DROP SCHEMA "{schema}" CASCADE')
            db.execute(f'CREATE SCHEMA "{schema}"')  # the fixture drops it again
            db.execute(f"DROP ROLE {role}")


def test_a_check_role_must_be_a_plain_role_name():
    from django.core.exceptions import ValidationError

    connection = make_connection("warehouse", "sqlite:///warehouse.db")
    connection.check_role = 'reader"; DROP TABLE x; --'
    with pytest.raises(ValidationError) as raised:
        connection.full_clean()
    assert "check_role" in raised.value.message_dict


def test_custom_sql_on_a_file_cannot_read_other_files(known_output):
    write_check(known_output, "SELECT COUNT(*) FROM read_csv('/etc/passwd')")
    [result] = run_checks_for_output(known_output)
    assert result.status == "error"
    assert "disabled by configuration" in result.error


def test_a_custom_query_returning_text_is_an_error_that_does_not_repeat_the_text(known_output):
    sql = "SELECT MAX(email) FROM {table}"
    check = Check.objects.create(output=known_output, name="odd", check_type="custom_sql", params={"sql": sql})
    [result] = run_checks_for_output(known_output, [check])
    assert result.status == "error"
    assert "got str instead" in result.error
    assert "@x.com" not in result.error  # the known rows' emails end so
