"""The checks of the quality benchmark, the same for every tool, and how each tool's runner reports.

Standard library only: each runner imports it in its own virtualenv (Lodestar's, GX's, Soda's).

Every runner prints one JSON object as the last line of its standard output:

    {"tool": ..., "source": ..., "version": ...,
     "check_s": seconds from opening the source to having every result,
     "check_cpu_s": CPU seconds of the process (all its threads) in that time,
     "memory": {"before_mib": RSS when the checks started, "peak_mib": peak RSS while they ran,
                "setup_peak_mib": peak RSS before they started} or null,
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
# Anchored, so that a tool that searches (Soda: regexp_matches / ~, GX: pandas) and one that matches the
# whole value (Lodestar: regexp_full_match) mean the same; only syntax DuckDB's RE2, PostgreSQL and Python share.
EMAIL_REGEX = r"^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$"
MIN_AMOUNT = 0
MAX_AGE_HOURS = 48
TABLE = "orders"

# The check metrics, in table order, with what each tool's number means.
METRICS = {
    "row_count": "rows (must be > 0)",
    "missing_amount": "rows with no amount (must be 0)",
    "duplicate_order_id": "duplicate order_id (must be 0; each tool counts its own way, see DUPLICATE_MEANING)",
    "invalid_region": f"non-null regions not in {ALLOWED_REGIONS} (must be 0)",
    "invalid_email": "non-null customer_email not matching EMAIL_REGEX (must be 0)",
    "negative_amount": f"non-null amounts below {MIN_AMOUNT}: invalid with a minimum of {MIN_AMOUNT} (must be 0)",
    "freshness": f"newest ordered_at (must be at most {MAX_AGE_HOURS} h old)",
    "schema": "schema mismatches: missing columns and wrong types (must be 0)",
}
# What a tool's duplicate number counts (Lodestar and Soda 4: extra rows; GX: rows in repeated groups).
# On the benchmark data every repeated id occurs exactly twice, so "extra rows" == "repeated values" ==
# half of "rows in repeated groups".
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


def _status_mib(field: str) -> float | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


class Stopwatch:
    """Wall time of a block, and the process's RSS before it and at its peak within it (Linux).

    With ``memory=True``: the peak is the kernel's high-water mark (VmHWM), reset at the start of the
    block by writing 5 to /proc/self/clear_refs, so the imports and set-up before the block do not count
    in it. The reset also lowers the peak the parent reads from ``wait4``, so the peak before the block is
    kept too (``setup_peak_mib``), and the process's peak is the larger of the two. Only one block per
    process should measure memory.
    """

    def __init__(self, memory: bool = False) -> None:
        self.measure_memory = memory
        self.reset = False
        self.before_mib = self.peak_mib = self.setup_peak_mib = None

    def __enter__(self) -> Stopwatch:
        if self.measure_memory:
            self._mark()
        self.started = time.perf_counter()
        self.cpu_started = time.process_time()  # every thread of the process: DuckDB's too
        return self

    def _mark(self) -> None:
        # The peak so far (imports, set-up) is kept, since the reset also lowers what wait4 reports as ru_maxrss.
        self.setup_peak_mib = _status_mib("VmHWM")
        try:
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")
            self.reset = True
        except OSError:
            self.reset = False
        self.before_mib = _status_mib("VmRSS")

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.started
        self.cpu_seconds = time.process_time() - self.cpu_started
        if self.measure_memory:
            self.peak_mib = _status_mib("VmHWM")

    @property
    def memory(self) -> dict | None:
        """``{"before_mib", "peak_mib", "setup_peak_mib"}`` when the peak could be reset, else None."""
        if not self.reset or None in (self.before_mib, self.peak_mib, self.setup_peak_mib):
            return None
        return {
            "before_mib": round(self.before_mib, 1),
            "peak_mib": round(self.peak_mib, 1),
            "setup_peak_mib": round(self.setup_peak_mib, 1),
        }
