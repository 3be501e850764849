"""Where an output's rows live, opened safely: the one source layer for quality checks and delivery.

* A file output (Parquet or CSV under the data root) is scanned by DuckDB in memory, with a
  memory cap and a thread count: DuckDB streams the file and spills beyond the cap, so a file
  larger than RAM is fine. The connection may read that one file and nothing else.
* A table output is queried in its own database through SQLAlchemy: in a read-only transaction
  with a statement timeout (PostgreSQL, optionally as the connection's ``check_role``; SQLite
  opened read-only), and the connection is closed afterwards.

Identifiers are always quoted by the source and values always bound as parameters. Delivery
(``products.delivery``) reads through ``Selection``: declared columns, a row scope pushed down as
``WHERE``, equality filters ANDed inside it, an order, a limit and an offset, streamed as Arrow
record batches.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote as url_quote
from urllib.parse import urlsplit, urlunsplit

import duckdb
from django.conf import settings
from django.core.exceptions import ValidationError
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from utilities.paths import resolve_data_path
from utilities.periods import local_date, period_start

from .choices import ConnectionKind, OutputFormat, OutputKind

if TYPE_CHECKING:
    import pyarrow

    from .models import Output

# The Arrow type of each declared data type (``OutputColumn.data_type``), for rows read through SQLAlchemy.
ARROW_TYPES = {
    "string": "string",
    "integer": "int64",
    "float": "float64",
    "decimal": "float64",
    "boolean": "bool",
    "date": "date32",
    "timestamp": "timestamp[us]",
}


class SourceError(Exception):
    """The output's data cannot be reached: a missing file, a connection refused, a missing table."""


# What opening or reading a source may raise when its data cannot be read: callers catch these together.
READ_ERRORS = (SourceError, duckdb.Error, SQLAlchemyError, OSError)


@dataclass
class Selection:
    """What delivery reads: the output's declared columns only (the caller validates every name).

    ``scope`` is the reader's row filter: (column, values) rules ORed, each ``CAST(column AS text) IN
    (values)``; None reads every row, an empty list none. ``filters`` are the query's equalities, ANDed
    inside the scope, so they can narrow it and never widen it. ``order`` is (column, descending) pairs.
    """

    columns: list[str]
    scope: list[tuple[str, list[str]]] | None = None
    filters: list[tuple[str, str]] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0


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

    # --- Delivery: a selection's rows, streamed ---

    def where(self, selection: Selection) -> str:
        """The selection's WHERE clause, every value bound; empty when it reads every row."""
        conditions = []
        if selection.scope is not None:
            rules = [self.text_in(column, values) for column, values in selection.scope]
            conditions.append("(" + " OR ".join(rules) + ")" if rules else "1 = 0")
        for column, value in selection.filters:
            conditions.append(f"{self.as_text(self.quote(column))} = {self.bind(value)}")
        return " WHERE " + " AND ".join(conditions) if conditions else ""

    def text_in(self, column: str, values: list[str]) -> str:
        placeholders = ", ".join(self.bind(value) for value in values)
        return f"{self.as_text(self.quote(column))} IN ({placeholders})"

    def select_sql(self, selection: Selection) -> str:
        columns = ", ".join(self.quote(name) for name in selection.columns)
        sql = f"SELECT {columns} FROM {self.relation}{self.where(selection)}"
        if selection.order:
            # NULLS LAST everywhere, so the order is the same whichever database holds the rows.
            keys = (
                f"{self.quote(name)} {'DESC' if descending else 'ASC'} NULLS LAST"
                for name, descending in selection.order
            )
            sql += " ORDER BY " + ", ".join(keys)
        return sql + self.limit_clause(selection.limit, selection.offset)

    def limit_clause(self, limit: int | None, offset: int) -> str:
        clause = f" LIMIT {int(limit)}" if limit is not None else ""
        return clause + (f" OFFSET {int(offset)}" if offset else "")

    def count(self, selection: Selection) -> int:
        """How many rows the selection's WHERE keeps (its limit and offset aside)."""
        sql = f"SELECT COUNT(*) AS n FROM {self.relation}{self.where(selection)}"
        return int(self.fetch(sql)[0]["n"])

    def record_batches(
        self, selection: Selection, batch_size: int, types: dict[str, str]
    ) -> tuple[pyarrow.Schema, Iterator[pyarrow.RecordBatch]]:
        """The selection's schema and its rows as Arrow record batches of at most ``batch_size`` rows.

        ``types`` are the declared Arrow types by column, for sources whose driver gives Python values.
        """
        raise NotImplementedError

    def columns(self) -> dict[str, str]:
        if self._columns is None:
            self._columns = self.describe()
        return self._columns

    def describe(self) -> dict[str, str]:
        raise NotImplementedError

    def time_kind(self, column: str) -> str | None:
        """How a column holds time: "date", "zoned" (timestamp with time zone), "naive" (timestamp), "text";
        None when there is no such column."""
        declared = self.columns().get(column)
        if declared is None:
            return None
        kind = str(declared).upper()
        if kind == "DATE":
            return "date"
        if "TIME ZONE" in kind or kind == "TIMESTAMPTZ":
            return "zoned"
        if kind.startswith("TIMESTAMP") or kind == "DATETIME":
            return "naive"
        return "text"

    def close(self) -> None:
        pass


class FileSource(Source):
    """A Parquet or CSV file under the data root, scanned by an in-memory DuckDB that may read only that file."""

    dialect = "duckdb"
    READERS = {OutputFormat.PARQUET: "read_parquet", OutputFormat.CSV: "read_csv"}
    # In DuckDB, a DISTINCT aggregate beside the others slows the whole shared scan more than a GROUP BY
    # of the key on its own costs (bench/quality: 10M rows, 0.5 s of 1.7 s).
    groups_repeated_keys = True

    def __init__(self, output: Output, threads: int | None = None, memory_limit: str = "") -> None:
        super().__init__()
        self.threads = threads or int(settings.LODESTAR_CHECK_THREADS)
        self.memory_limit = memory_limit or settings.LODESTAR_CHECK_MEMORY_LIMIT
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
            f"SET memory_limit = {sql_literal(self.memory_limit)}",
            f"SET threads = {self.threads}",
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

    def record_batches(self, selection: Selection, batch_size: int, types: dict[str, str]):
        sql = self.select_sql(selection)
        # A streaming result: DuckDB produces the next batch only when it is asked for.
        reader = self.connection.sql(sql, params=self.params_for(sql)).to_arrow_reader(batch_size)
        return reader.schema, iter(reader)

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


def sqlite_period(value: Any, grain: str, zone: str) -> str | None:
    """The first day (ISO text) of the ``grain`` period holding ``value`` in the time zone ``zone``.

    A date is a calendar day as it stands; a timestamp with an offset is converted to the zone; one
    without is taken as UTC and converted. Anything unreadable has no period (None).
    """
    day = local_date(value, zone)
    return None if day is None else period_start(day, grain).isoformat()


class TableSource(Source):
    """A table behind a Connection; the SQL runs in that database, read-only, with a statement timeout."""

    def __init__(self, output: Output) -> None:
        super().__init__()
        self._types: dict[str, Any] = {}
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
            # SQLite has no time zones: KPI periods are computed by Python (``quality.kpis``).
            raw.create_function("lodestar_period", 3, sqlite_period, deterministic=True)
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

    def limit_clause(self, limit: int | None, offset: int) -> str:
        if offset and limit is None and self.dialect == "sqlite":
            limit = -1  # SQLite has no OFFSET without a LIMIT
        return super().limit_clause(limit, offset)

    def record_batches(self, selection: Selection, batch_size: int, types: dict[str, str]):
        import pyarrow as pa

        sql = self.select_sql(selection)
        # yield_per streams: a server-side cursor on PostgreSQL, fetchmany on SQLite.
        result = self.conn.execution_options(yield_per=batch_size).execute(text(sql), self.params_for(sql))
        declared = pa.schema([(name, pa.type_for_alias(types.get(name, "string"))) for name in selection.columns])
        return declared, (rows_to_batch(rows, declared) for rows in result.partitions())

    def describe(self) -> dict[str, str]:
        schema, _, name = self.table.rpartition(".")
        columns = inspect(self.conn).get_columns(name, schema=schema or None)
        if not columns:
            raise SourceError(f"The table {self.table} does not exist or has no columns.")
        self._types = {column["name"]: column["type"] for column in columns}
        return {column["name"]: str(column["type"]) for column in columns}

    def time_kind(self, column: str) -> str | None:
        kind = super().time_kind(column)
        declared = self._types.get(column)
        if kind == "naive" and getattr(declared, "timezone", False):  # str() of PostgreSQL's timestamptz drops the zone
            return "zoned"
        if self.dialect == "sqlite" and kind in ("date", "naive"):
            return "text"  # SQLite keeps dates and times as text, whatever the declared type
        return kind

    def close(self) -> None:
        try:
            self.transaction.rollback()
            self.conn.close()
        finally:
            self.engine.dispose()


def rows_to_batch(rows: list, schema: pyarrow.Schema) -> pyarrow.RecordBatch:
    """Rows from a DB-API cursor as one Arrow batch of the declared types; a column whose values do not fit its
    declared type (SQLite keeps timestamps as text) is kept as text."""
    import pyarrow as pa

    arrays = []
    for index, column in enumerate(schema):
        values = [row[index] for row in rows]
        try:
            arrays.append(pa.array(values, type=column.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            arrays.append(pa.array([None if value is None else str(value) for value in values], type=pa.string()))
    return pa.RecordBatch.from_arrays(arrays, names=schema.names)


def open_source(output: Output, threads: int | None = None, memory_limit: str = "") -> Source:
    """The output's source, opened. For a file, ``threads`` and ``memory_limit`` cap DuckDB's (by default
    LODESTAR_CHECK_THREADS and LODESTAR_CHECK_MEMORY_LIMIT); beyond its memory limit DuckDB spills to disk."""
    if output.kind == OutputKind.FILE:
        if output.format not in FileSource.READERS:
            raise SourceError(f"A file output is Parquet or CSV, not {output.format}.")
        return FileSource(output, threads, memory_limit)
    if output.connection_id is None:
        raise SourceError("The table output has no connection.")
    return TableSource(output)
