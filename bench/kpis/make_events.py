"""Events for the KPI benchmark: a year of product usage as one Parquet file (seeded, cached).

    .venv/bin/python bench/kpis/make_events.py                  # 10,000,000 rows into bench/kpis/data/
    .venv/bin/python bench/kpis/make_events.py --rows 200000    # another size: the file is made again

Columns: ``event_id`` (int64, in time order), ``user_id`` (int64, ~500,000 users whose activity is
log-normally skewed: a few heavy users, a long tail of occasional ones), ``event_ts`` (timestamp[us, tz=UTC] over
365 days from 2025-01-01, weekdays busier than weekends, a daytime peak, slow growth over the year),
``feature`` (10 values, skewed) and ``platform`` (4 values). Row groups of 1,000,000 rows, zstd.

The file is kept while it holds ``--rows`` rows of the same seed (``events.json`` beside it says so).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
PATH = DATA / "events.parquet"
SEED = 20250101
USERS = 500_000
DAYS = 365
START = np.datetime64("2025-01-01T00:00:00", "us")  # a Wednesday: the first full ISO week starts 2025-01-06
ROW_GROUP = 1_000_000
FEATURES = ["search", "dashboard", "export", "share", "comment", "upload", "filter", "alert", "api", "settings"]
PLATFORMS = ["web", "ios", "android", "api"]
# Monday … Sunday: office use, quieter weekends.
WEEKDAY_WEIGHTS = np.array([1.0, 1.05, 1.05, 1.0, 0.9, 0.45, 0.4])


def is_current(rows: int, path: Path = PATH) -> bool:
    meta = path.with_name("events.json")
    if not path.exists() or not meta.exists():
        return False
    return json.loads(meta.read_text()) == {"rows": rows, "seed": SEED}


def ensure_events(rows: int, path: Path = PATH) -> Path:
    """The events file of ``rows`` rows, made only when missing or of another size."""
    if not is_current(rows, path):
        print(f"Writing {rows:,} events to {path} …", flush=True)
        write_events(rows, path)
    return path


def user_ids(rng: np.random.Generator, rows: int) -> np.ndarray:
    """``rows`` draws from a population whose activity is log-normal (a few heavy users, a long tail)."""
    activity = rng.lognormal(0.0, 1.4, USERS)
    population = rng.choice(np.arange(10_000_000, 90_000_000, dtype=np.int64), USERS, replace=False)
    cumulative = np.cumsum(activity / activity.sum())
    picks = np.searchsorted(cumulative, rng.random(rows), side="right")
    return population[np.minimum(picks, USERS - 1)]


def timestamps(rng: np.random.Generator, rows: int) -> np.ndarray:
    """Microseconds since START: a day by weekday weight and a 30 % growth over the year, then a daytime hour."""
    days = np.arange(DAYS)
    weekday = (days + 2) % 7  # 2025-01-01 is a Wednesday (Monday = 0)
    weights = WEEKDAY_WEIGHTS[weekday] * (1 + 0.3 * days / DAYS)
    day = np.searchsorted(np.cumsum(weights / weights.sum()), rng.random(rows), side="right")
    # Hours: a normal around 14:00 UTC (sd 4 h), folded into the day.
    seconds = np.mod(rng.normal(14 * 3600, 4 * 3600, rows), 86_400)
    micros = day.astype(np.int64) * 86_400_000_000 + (seconds * 1_000_000).astype(np.int64)
    micros.sort()  # an event log is written in time order
    return micros


def categorical(rng: np.random.Generator, values: list[str], weights: list[float], rows: int) -> pa.Array:
    p = np.array(weights) / sum(weights)
    indices = pa.array(rng.choice(len(values), rows, p=p).astype(np.int32))
    return pa.DictionaryArray.from_arrays(indices, pa.array(values)).cast(pa.string())


def write_events(rows: int, path: Path = PATH) -> None:
    rng = np.random.default_rng(SEED)
    table = pa.table(
        {
            "event_id": pa.array(np.arange(1, rows + 1, dtype=np.int64)),
            "user_id": pa.array(user_ids(rng, rows)),
            "event_ts": pa.array(START + timestamps(rng, rows).astype("timedelta64[us]"), pa.timestamp("us", "UTC")),
            "feature": categorical(rng, FEATURES, [30, 20, 10, 8, 8, 7, 6, 5, 4, 2], rows),
            "platform": categorical(rng, PLATFORMS, [55, 20, 20, 5], rows),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".parquet.tmp")
    pq.write_table(table, partial, row_group_size=ROW_GROUP, compression="zstd")
    partial.replace(path)
    path.with_name("events.json").write_text(json.dumps({"rows": rows, "seed": SEED}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    print(ensure_events(args.rows))


if __name__ == "__main__":
    main()
