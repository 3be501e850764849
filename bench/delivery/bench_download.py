"""Delivery benchmark: a masked, row-filtered CSV download of a large output through the real view.

    make bench-delivery                                          # 1,000,000 delivered rows, 3 runs
    make bench-delivery BENCH_DELIVERY_ARGS="--rows 100000 --repeat 1"

The output is a Parquet file of orders with two PII columns — ``customer_email`` (masked ``partial``) and
``customer_phone`` (masked ``hash``), every value distinct — and a ``region`` under a row filter: the reader
(``read_output``, so masked) is in a group whose rule is ``region IN (North, South, East)``. The file holds
``--rows`` rows in those regions plus a quarter as many in West, so the download delivers exactly
``--rows`` rows while the filter discards the rest at the source.

Each run is a process of its own (run_download.py): Django on a SQLite file beside the data, the download
through Django's test client, the stream consumed chunk by chunk. Figures per run: delivered rows, wall
seconds, rows/s, CPU seconds, the peak RSS of the whole process (``ru_maxrss``, interpreter and Django
included) and the peak during the download alone (Linux: VmHWM after resetting it). Targets: at least
200,000 rows/s and under 300 MB. Data and results: bench/delivery/data/ and bench/delivery/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "results"
TARGET_ROWS_PER_S = 200_000
TARGET_MB = 300


def make_orders(path: Path, rows: int) -> None:
    """``rows`` orders in North, South and East, and ``rows // 4`` in West, interleaved (every fifth is West)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    total = rows + rows // 4
    ids = np.arange(1, total + 1, dtype=np.int64)
    text_ids = pc.cast(pa.array(ids), pa.string())
    regions = np.array(["North", "South", "East", "West", "North"], dtype=object)[ids % 5]
    rng = np.random.default_rng(1729)
    table = pa.table(
        {
            "order_id": ids,
            "customer_email": pc.binary_join_element_wise("customer.", text_ids, "@example.com", ""),
            "customer_phone": pc.binary_join_element_wise("+44 7700 ", pc.utf8_lpad(text_ids, 7, "0"), ""),
            "region": pa.array(regions, pa.string()),
            "amount": np.round(rng.gamma(2.0, 30.0, total), 2),
            "ordered_at": pa.array(
                np.datetime64("2026-01-01T00:00:00", "us") + (ids * 37_000_000).astype("timedelta64[us]"),
                pa.timestamp("us", tz="UTC"),
            ),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=128 * 1024, compression="zstd")
    (path.with_suffix(".rows")).write_text(str(rows))


def migrate(database: Path) -> None:
    """Migrate the benchmark's own SQLite database, in a process of its own (not the measured one)."""
    env = {**os.environ, "LODESTAR_DEMO": "true", "DATABASE_URL": f"sqlite:///{database}"}
    env["LODESTAR_DATA_ROOT"] = str(DATA)
    manage = HERE.parent.parent / "manage.py"
    subprocess.run([sys.executable, str(manage), "migrate", "--verbosity", "0"], env=env, check=True)


def run_once(path: Path, batch_rows: int | None) -> dict:
    command = [
        sys.executable, str(HERE / "run_download.py"), "--data-root", str(DATA),
        "--file", path.name, "--database", str(DATA / "bench.sqlite3"),
    ]  # fmt: skip
    if batch_rows:
        command += ["--batch-rows", str(batch_rows)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"The run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(results: list[dict], rows: int) -> str:
    lines = [
        "| run | rows | seconds | rows/s | CPU s | RSS before (MB) | peak, download (MB) | peak, process (MB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for index, result in enumerate(results, 1):
        download_peak = f"{result['download_peak_mb']:.0f}" if result["download_peak_mb"] else "n/a"
        lines.append(
            f"| {index} | {result['rows']:,} | {result['seconds']:.2f} | {result['rows'] / result['seconds']:,.0f} "
            f"| {result['cpu_seconds']:.2f} | {result['rss_before_mb']:.0f} | {download_peak} "
            f"| {result['process_peak_mb']:.0f} |"
        )
    median = statistics.median(result["rows"] / result["seconds"] for result in results)
    peak = max(result["process_peak_mb"] for result in results)
    fast, small = median >= TARGET_ROWS_PER_S, peak < TARGET_MB
    verdict = (
        f"Median {median:,.0f} rows/s (target ≥ {TARGET_ROWS_PER_S:,}: {'met' if fast else 'NOT met'}); "
        f"peak RSS {peak:.0f} MB (target < {TARGET_MB} MB: {'met' if small else 'NOT met'})."
    )
    return "\n".join(lines) + "\n\n" + verdict + f"\nRequested rows: {rows:,}.\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows delivered (the file holds 25%% more)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-rows", type=int, help="rows per Arrow batch (default: products.delivery.BATCH_ROWS)")
    args = parser.parse_args()
    if args.rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be at least 1")
    path = DATA / f"orders-{args.rows}.parquet"
    if not path.exists():
        print(f"Writing {args.rows + args.rows // 4:,} rows to {path} …", flush=True)
        make_orders(path, args.rows)
    migrate(DATA / "bench.sqlite3")
    results = [run_once(path, args.batch_rows) for _ in range(args.repeat)]
    for result in results:
        if result["status"] != 200 or result["rows"] != args.rows:
            sys.exit(f"Unexpected download: status {result['status']}, {result['rows']:,} rows: {result}")
    report = table(results, args.rows)
    print(report)
    print("First lines:", *results[0]["sample"], sep="\n  ")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.md").write_text(report)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
