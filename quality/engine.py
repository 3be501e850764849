"""The engine: all the checks of one output, in one pass where the data lives.

* A file output (Parquet or CSV under the data root) is scanned by DuckDB in memory, with a
  memory cap and a thread count: DuckDB streams the file and spills beyond the cap, so a file
  larger than RAM is fine. The connection may read that one file and nothing else.
* A table output is queried in its own database through SQLAlchemy: the SQL is pushed down, in a
  read-only transaction with a statement timeout, and the connection is closed afterwards.

Every check contributes its measures to one aggregate ``SELECT``; only extra queries (custom SQL)
and failing-row samples cost another round trip. Identifiers are always quoted by the source and
values always bound as parameters. A source that cannot be reached makes every check of the
output an *error* with the reason — never a *fail*.
"""

from __future__ import annotations

import functools
import logging
import re
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote as url_quote
from urllib.parse import urlsplit, urlunsplit

import duckdb
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from access.masking import mask_row, masking_methods
from products.choices import ConnectionKind, OutputFormat, OutputKind
from products.models import Output
from utilities.paths import resolve_data_path

from .checks import SAMPLE_ROWS
from .choices import RunStatus
from .models import Check, CheckRun, now_slot

if TYPE_CHECKING:
    import pyarrow

logger = logging.getLogger(__name__)


@dataclass
class Result:
    """What one check found: status, the observed number, masked sample rows, the error and the time taken."""

    check: Check
    status: str
    observed_value: float | None = None
    samples: list[dict] = field(default_factory=list)
    error: str = ""
    duration_ms: int = 0


class SourceError(Exception):
    """The output's data cannot be reached: a missing file, a connection refused, a missing table."""


def error_message(exc: BaseException) -> str:
    """The database's own words, without SQLAlchemy's wrapping and background link."""
    original = getattr(exc, "orig", None)
    return str(original or exc).strip().splitlines()[0] if str(original or exc).strip() else type(exc).__name__


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# --- Sources --------------------------------------------------------------------------------


class Source:
    """Where an output's data lives, as the check types see it (see ``quality.checks``)."""

    dialect = ""
    relation = ""
    # Count repeated keys with a GROUP BY of their own rather than COUNT(DISTINCT) in the shared aggregate,
    # which also gives the first repeated keys for the samples (see DuplicateCount).
    groups_repeated_keys = False

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self._columns: dict[str, str] | None = None

    def bind(self, value: Any) -> str:
        """A placeholder for ``value``, bound as a parameter when the query runs."""
        name = f"p{len(self.params) + 1}"
        self.params[name] = value
        return self.placeholder(name)

    def placeholder(self, name: str) -> str:
        return f":{name}"

    def params_for(self, sql: str) -> dict[str, Any]:
        return {name: value for name, value in self.params.items() if re.search(rf"[:$]{name}\b", sql)}

    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def as_text(self, expr: str) -> str:
        return f"CAST({expr} AS TEXT)"

    def regex_mismatch(self, text_expr: str, pattern: str) -> str:
        raise NotImplementedError

    def count_distinct(self, keys: list[str]) -> str | None:
        """``COUNT(DISTINCT (a, b))`` where the dialect has row values; None where it has not."""
        return None

    def epoch(self, expr: str) -> str:
        raise NotImplementedError

    def fetch(self, sql: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    def columns(self) -> dict[str, str]:
        if self._columns is None:
            self._columns = self.describe()
        return self._columns

    def describe(self) -> dict[str, str]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class FileSource(Source):
    """A Parquet or CSV file under the data root, scanned by an in-memory DuckDB that may read only that file."""

    dialect = "duckdb"
    READERS = {OutputFormat.PARQUET: "read_parquet", OutputFormat.CSV: "read_csv"}
    # In DuckDB, a DISTINCT aggregate beside the others slows the whole shared scan more than a GROUP BY
    # of the key on its own costs (bench/quality: 10M rows, 0.5 s of 1.7 s).
    groups_repeated_keys = True

    def __init__(self, output: Output) -> None:
        super().__init__()
        try:
            path = resolve_data_path(output.path)
        except ValidationError as exc:
            raise SourceError(f"The path {output.path!r} is not usable: {exc.messages[0]}") from None
        if not path.is_file():
            raise SourceError(f"The file {output.path} does not exist under the data root.")
        self.connection = duckdb.connect(":memory:")
        self._configure(path)
        self.params["path"] = str(path)
        self.relation = f"{self.READERS.get(output.format, 'read_parquet')}($path)"

    def _configure(self, path: Path) -> None:
        spill = Path(tempfile.gettempdir()) / "lodestar-duckdb"
        spill.mkdir(exist_ok=True)
        for statement in (
            f"SET memory_limit = {sql_literal(settings.LODESTAR_CHECK_MEMORY_LIMIT)}",
            f"SET threads = {int(settings.LODESTAR_CHECK_THREADS)}",
            "SET TimeZone = 'UTC'",
            f"SET temp_directory = {sql_literal(str(spill))}",
            f"SET allowed_directories = [{sql_literal(str(spill))}]",
            f"SET allowed_paths = [{sql_literal(str(path))}]",
            # Custom SQL must not read other files or write any: lock the configuration too.
            "SET enable_external_access = false",
            "SET lock_configuration = true",
        ):
            self.connection.execute(statement)

    def placeholder(self, name: str) -> str:
        return f"${name}"

    def as_text(self, expr: str) -> str:
        return f"CAST({expr} AS VARCHAR)"

    def regex_mismatch(self, text_expr: str, pattern: str) -> str:
        return f"NOT regexp_full_match({text_expr}, {self.bind(pattern)})"

    def count_distinct(self, keys: list[str]) -> str | None:
        return f"COUNT(DISTINCT ({', '.join(keys)}))"

    def epoch(self, expr: str) -> str:
        return f"epoch({expr})"

    def fetch(self, sql: str) -> list[dict[str, Any]]:
        # Through Arrow: DuckDB's own conversion of time-zone-aware timestamps needs pytz.
        return arrow_rows(self.connection.sql(sql, params=self.params_for(sql)).to_arrow_table())

    def describe(self) -> dict[str, str]:
        sql = f"DESCRIBE SELECT * FROM {self.relation}"
        return {row[0]: row[1] for row in self.connection.execute(sql, self.params_for(sql)).fetchall()}

    def close(self) -> None:
        self.connection.close()


def arrow_rows(table: pyarrow.Table) -> list[dict[str, Any]]:
    """``table.to_pylist()``, without the import of pandas (0.15 s) that pyarrow makes to convert time-zone-aware
    timestamps: those columns are read as naive UTC times (a view of the same values, where a cast would load
    pyarrow's compute functions), then given their time zone as pyarrow would."""
    import pyarrow as pa  # loaded by DuckDB's to_arrow_table already

    zoned = {}
    names = table.column_names
    if len(set(names)) == len(names):
        for index, column in enumerate(table.schema):
            kind = column.type
            if pa.types.is_timestamp(kind) and kind.tz and kind.unit != "ns":  # ns values may not be datetimes
                zoned[column.name] = pa.lib.string_to_tzinfo(kind.tz)
                naive = pa.timestamp(kind.unit)
                values = pa.chunked_array([chunk.view(naive) for chunk in table.column(index).chunks], type=naive)
                table = table.set_column(index, column.name, values)
    rows = table.to_pylist()
    for name, zone in zoned.items():
        for row in rows:
            value = row[name]
            if value is not None:
                row[name] = value.replace(tzinfo=UTC).astimezone(zone)
    return rows


def sqlalchemy_url(url: str) -> str:
    """A PostgreSQL URL with the psycopg 3 driver SQLAlchemy should use."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme="postgresql+psycopg"))


@functools.lru_cache(maxsize=64)
def compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def sqlite_regexp(pattern: str | None, value: Any) -> bool | None:
    if pattern is None or value is None:
        return None
    return compiled(pattern).fullmatch(str(value)) is not None


class TableSource(Source):
    """A table behind a Connection; the SQL runs in that database, read-only, with a statement timeout."""

    def __init__(self, output: Output) -> None:
        super().__init__()
        connection = output.connection
        try:
            url = connection.url
        except ValueError as exc:
            raise SourceError(str(exc)) from None
        self.timeout = int(settings.LODESTAR_CHECK_TIMEOUT_SECONDS)
        self.engine = self._engine(connection.kind, url)
        self.dialect = self.engine.dialect.name
        self.table = output.table
        self.relation = ".".join(self.quote(part) for part in output.table.split("."))
        try:
            self.conn = self.engine.connect()
            self.transaction = self.conn.begin()
            if self.dialect == "postgresql":
                # First statement of the transaction; then a custom query cannot write, however it is spelled.
                self.conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                self.conn.exec_driver_sql(f"SET LOCAL statement_timeout = {self.timeout * 1000}")
                if connection.check_role:
                    # Fewer rights than the URL's user, for this transaction only (validated name).
                    self.conn.exec_driver_sql(f"SET LOCAL ROLE {self.quote(connection.check_role)}")
        except SQLAlchemyError as exc:
            self.engine.dispose()
            raise SourceError(f"Cannot connect to {connection.name}: {error_message(exc)}") from None

    def _engine(self, kind: str, url: str):
        if kind == ConnectionKind.SQLITE:
            return self._sqlite_engine(url)
        engine = create_engine(sqlalchemy_url(url), poolclass=NullPool, connect_args={"connect_timeout": 10})
        return engine

    def _sqlite_engine(self, url: str):
        relative = urlsplit(url).path.lstrip("/")
        try:
            path = resolve_data_path(relative)
        except ValidationError as exc:
            raise SourceError(f"The SQLite file {relative!r} is not usable: {exc.messages[0]}") from None
        if not path.is_file():
            raise SourceError(f"The SQLite file {relative} does not exist under the data root.")
        timeout = self.timeout

        def connect() -> sqlite3.Connection:
            raw = sqlite3.connect(f"file:{url_quote(str(path))}?mode=ro", uri=True, check_same_thread=False)
            raw.execute("PRAGMA query_only = ON")
            # SQLite has no regex of its own: X REGEXP Y calls regexp(Y, X), a full match like the others'.
            raw.create_function("regexp", 2, sqlite_regexp, deterministic=True)
            deadline = time.monotonic() + timeout
            raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
            return raw

        engine = create_engine("sqlite://", creator=connect, poolclass=NullPool)
        return engine

    def quote(self, name: str) -> str:
        return self.engine.dialect.identifier_preparer.quote_identifier(name)

    def regex_mismatch(self, text_expr: str, pattern: str) -> str:
        if self.dialect == "postgresql":
            return f"{text_expr} !~ {self.bind(f'^(?:{pattern})$')}"
        if self.dialect == "sqlite":
            return f"NOT ({text_expr} REGEXP {self.bind(pattern)})"
        raise SourceError(f"Regular expressions are not supported on {self.dialect}.")

    def count_distinct(self, keys: list[str]) -> str | None:
        if self.dialect == "postgresql":
            return f"COUNT(DISTINCT ROW({', '.join(keys)}))"
        return None

    def epoch(self, expr: str) -> str:
        if self.dialect == "postgresql":
            return f"EXTRACT(EPOCH FROM {expr})"
        if self.dialect == "sqlite":
            return f"CAST(strftime('%s', {expr}) AS REAL)"
        raise SourceError(f"Freshness is not supported on {self.dialect}.")

    def fetch(self, sql: str) -> list[dict[str, Any]]:
        statement = text(sql)
        if self.dialect != "postgresql":
            return [dict(row._mapping) for row in self.conn.execute(statement, self.params_for(sql))]
        # A savepoint per query: one failing query must not abort the rest of the transaction.
        with self.conn.begin_nested():
            return [dict(row._mapping) for row in self.conn.execute(statement, self.params_for(sql))]

    def describe(self) -> dict[str, str]:
        schema, _, name = self.table.rpartition(".")
        columns = inspect(self.conn).get_columns(name, schema=schema or None)
        if not columns:
            raise SourceError(f"The table {self.table} does not exist or has no columns.")
        return {column["name"]: str(column["type"]) for column in columns}

    def close(self) -> None:
        try:
            self.transaction.rollback()
            self.conn.close()
        finally:
            self.engine.dispose()


def open_source(output: Output) -> Source:
    if output.kind == OutputKind.FILE:
        if output.format not in FileSource.READERS:
            raise SourceError(f"A file output is Parquet or CSV, not {output.format}.")
        return FileSource(output)
    if output.connection_id is None:
        raise SourceError("The table output has no connection.")
    return TableSource(output)


# --- Running ---------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """A sample value as JSON can store it."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if value != value else value  # NaN
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date | clock):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def elapsed_ms(since: float) -> int:
    return int((time.perf_counter() - since) * 1000)


class OutputRun:
    """The checks of one output against one open source."""

    def __init__(self, output: Output, checks: list[Check], source: Source) -> None:
        self.output, self.checks, self.source = output, checks, source
        self.masking = masking_methods(output)  # column name → method, for the sensitive columns

    def results(self) -> list[Result]:
        started = time.perf_counter()
        measured = self.measure_all()
        shared_ms = elapsed_ms(started)
        return [self.evaluate(check, measured[index], shared_ms) for index, check in enumerate(self.checks)]

    def measure_all(self) -> list[dict | Exception]:
        """Every check's measures in one aggregate SELECT; if it fails, each check on its own to find the culprit."""
        selected, owners = [], []
        try:
            parts = [check.kind.measures(check, self.source) for check in self.checks]
        except SoftTimeLimitExceeded:  # the task's time is up: stop the whole pass, not one check
            raise
        except Exception as exc:  # a dialect that cannot express a measure: measure one by one
            parts = None
            logger.info("Cannot build the combined query for %s: %s", self.output, exc)
        if parts is not None:
            for index, measures in enumerate(parts):
                for name, expr in measures.items():
                    selected.append(f"{expr} AS {self.source.quote(f'c{index}_{name}')}")
                    owners.append((index, name))
            if not selected:
                return [{} for _ in self.checks]
            try:
                row = self.source.fetch(f"SELECT {', '.join(selected)} FROM {self.source.relation}")[0]
            except SoftTimeLimitExceeded:  # the task's time is up: stop the whole pass, not one check
                raise
            except Exception as exc:
                logger.info("The combined check query on %s failed: %s", self.output, exc)
            else:
                values: list[dict | Exception] = [{} for _ in self.checks]
                for index, name in owners:
                    values[index][name] = row[f"c{index}_{name}"]
                return values
        return [self.measure_one(check) for check in self.checks]

    def measure_one(self, check: Check) -> dict | Exception:
        try:
            measures = check.kind.measures(check, self.source)
            if not measures:
                return {}
            selected = ", ".join(f"{expr} AS {self.source.quote(name)}" for name, expr in measures.items())
            return self.source.fetch(f"SELECT {selected} FROM {self.source.relation}")[0]
        except SoftTimeLimitExceeded:  # the task's time is up: stop the whole pass, not one check
            raise
        except Exception as exc:
            return exc

    def evaluate(self, check: Check, measured: dict | Exception, shared_ms: int) -> Result:
        started = time.perf_counter()
        try:
            if isinstance(measured, Exception):
                raise measured
            values = dict(measured)
            extra = check.kind.extra_sql(check, self.source)
            if extra:
                rows = self.source.fetch(extra)
                values["extra"] = next(iter(rows[0].values()), None) if rows else None
                values["extra_row"] = rows[0] if rows else {}
            observed = check.kind.observed(check, values, self.source)
            status = check.status_for(observed)
        except SoftTimeLimitExceeded:  # the task's time is up: stop the whole pass, not one check
            raise
        except Exception as exc:
            return Result(check, RunStatus.ERROR, error=error_message(exc), duration_ms=shared_ms + elapsed_ms(started))
        samples = [] if status == RunStatus.PASS else self.samples(check, values)
        return Result(check, status, observed, samples, duration_ms=shared_ms + elapsed_ms(started))

    def samples(self, check: Check, values: dict) -> list[dict]:
        """Up to five failing rows, sensitive columns masked; a failing sample query leaves no samples, not an error."""
        try:
            special = check.kind.samples(check, values, self.source)
            if special is not None:
                return special
            sql = check.kind.failing_rows_sql(check, self.source, values)
            rows = self.source.fetch(sql)[:SAMPLE_ROWS] if sql else []
        except SoftTimeLimitExceeded:  # the task's time is up: stop the whole pass, not one check
            raise
        except Exception as exc:
            logger.info("No samples for %s: %s", check, exc)
            return []
        return [{key: jsonable(value) for key, value in mask_row(row, self.masking).items()} for row in rows]


def run_checks_for_output(output: Output, checks: list[Check] | None = None) -> list[Result]:
    """Run the output's enabled checks (or the given ones) in one pass where its data lives."""
    if checks is None:
        checks = list(output.checks.filter(enabled=True))
    if not checks:
        return []
    started = time.perf_counter()
    try:
        source = open_source(output)
    except (SourceError, duckdb.Error, SQLAlchemyError, OSError) as exc:
        message = error_message(exc)
        return [Result(check, RunStatus.ERROR, error=message, duration_ms=elapsed_ms(started)) for check in checks]
    try:
        return OutputRun(output, checks, source).results()
    finally:
        source.close()


def record_results(results: list[Result], scheduled_for: datetime | None = None) -> list[CheckRun]:
    """Store each result as the run of its slot (now, to the second, by default); returns the runs stored.

    Each run is claimed first (``CheckRun.take``), so a slot that is finished, or held by another
    delivery, is kept as it is.
    """
    slot = scheduled_for or now_slot()
    stored = []
    for result in results:
        run = CheckRun.take(result.check, slot)
        if run is not None and (run.is_finished or run.finish(result)):
            stored.append(run)
    return stored
