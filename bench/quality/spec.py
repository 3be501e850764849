"""The checks of the quality benchmark, the same for every tool, and how each tool's runner reports.

Standard library only: each runner imports it in its own virtualenv (Lodestar's, GX's, Soda's).

Every runner prints one JSON object as the last line of its standard output:

    {"tool": ..., "source": ..., "version": ...,
     "check_s": seconds from opening the source to having every result,
     "observed": {metric: number or ISO timestamp, ...},   # in the tool's own terms, see METRICS
     "outcome": {metric: "pass" | "fail" | "error", ...},
     "notes": [...]}

or ``{"tool": ..., "source": ..., "unsupported": "why"}`` when the tool cannot read that source.
"""

from __future__ import annotations

import json
import sys
import time

ALLOWED_REGIONS = ["north", "south", "east", "west", "central"]
MAX_AGE_HOURS = 48
TABLE = "orders"

# The check metrics, in table order, with what each tool's number means.
METRICS = {
    "row_count": "rows (must be > 0)",
    "missing_amount": "rows with no amount (must be 0)",
    "duplicate_order_id": "duplicate order_id (must be 0; each tool counts its own way, see DUPLICATE_MEANING)",
    "invalid_region": f"non-null regions not in {ALLOWED_REGIONS} (must be 0)",
    "freshness": f"newest ordered_at (must be at most {MAX_AGE_HOURS} h old)",
    "schema": "schema mismatches: missing columns and wrong types (must be 0)",
}
# What a tool's duplicate number counts. On the benchmark data every repeated id occurs exactly twice,
# so "extra rows" == "repeated values" == half of "rows in repeated groups".
DUPLICATE_MEANING = {
    "extra_rows": "rows with an id minus distinct ids",
    "repeated_values": "ids that occur more than once",
    "rows_in_repeated_groups": "rows whose id occurs more than once",
}

# The columns and the type each tool is told to expect, per source.
SPEC_TYPES = {
    "order_id": "integer",
    "customer_email": "string",
    "region": "string",
    "amount": "float",
    "ordered_at": "timestamp",
}
PII_COLUMNS = {"customer_email"}


def emit(report: dict) -> None:
    sys.stdout.flush()
    print("\n" + json.dumps(report, default=str), flush=True)


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.started
