"""The engine: all the checks of one output, in one pass where the data lives.

The output's data is opened by the source layer (``products.sources``, shared with delivery):
DuckDB over the one file under the data root, or SQLAlchemy over a table in a read-only
transaction with a statement timeout.

Every check contributes its measures to one aggregate ``SELECT``; only extra queries (custom SQL)
and failing-row samples cost another round trip. Identifiers are always quoted by the source and
values always bound as parameters. A source that cannot be reached makes every check of the
output an *error* with the reason — never a *fail*.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as clock
from decimal import Decimal
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from access.masking import mask_row, masking_methods
from products.models import Output
from products.sources import READ_ERRORS, Source, error_message, open_source
from products.sources import SourceError as SourceError  # re-exported: quality.tasks catches it from here

from .checks import SAMPLE_ROWS
from .choices import RunStatus
from .models import Check, CheckRun, now_slot

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
    except READ_ERRORS as exc:
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
