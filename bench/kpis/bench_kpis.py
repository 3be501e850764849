"""KPI benchmark: a daily series over a year of 10 million events, through the KPI engine (quality/kpis.py).

    make bench-kpis                                            # 10M events, Parquet, 3 runs of each case
    make bench-kpis BENCH_KPIS_ARGS="--postgres --repeat 5"    # also the same events as a PostgreSQL table
    make bench-kpis BENCH_KPIS_ARGS="--rows 1000000 --repeat 1"

Target (issue): distinct users per day, week and month over a year of 10M events in under 5 s.

Cases, each in a process of its own (Django on the benchmark's SQLite file, migrated first):

    distinct_users            count_distinct user_id, time event_ts, grain day (the target case)
    distinct_users_platform   the same, broken down by platform
    events                    count of rows

each on the Parquet file (DuckDB, as ``open_source`` opens it) and, with ``--postgres``, on a table in
``lodestar_bench_kpis`` behind a Connection. Per run: the wall time of ``compute_points`` (the query and
the reading of its rows) and of ``compute`` (the same, plus storing the points and recording the run),
and the peak RSS of the process during the run (Linux VmHWM, reset before the run; Django included).
The distinct users of the first full week are checked against a direct DuckDB COUNT(DISTINCT).

Data: bench/kpis/data/ (kept while it holds --rows rows); results: bench/kpis/results/latest.{md,json}.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DATA = HERE / "data"
RESULTS = HERE / "results"
DATABASE = DATA / "bench.sqlite3"
PG_URL = "postgres://postgres@127.0.0.1:5432/lodestar_bench_kpis"
TARGET_S = 5.0
TABLE = "events"

sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from common import reset_peak, status_kb  # noqa: E402
from make_events import PATH, ensure_events  # noqa: E402

# name: (aggregation, column, dimensions)
CASES = {
    "distinct_users": ("count_distinct", "user_id", []),
    "distinct_users_platform": ("count_distinct", "user_id", ["platform"]),
    "events": ("count", "", []),
}
COLUMNS = [
    ("event_id", "integer", "key"),
    ("user_id", "integer", "attribute"),
    ("event_ts", "timestamp", "attribute"),
    ("feature", "string", "dimension"),
    ("platform", "string", "dimension"),
]


def django_env() -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "hub.settings",
        "LODESTAR_DEMO": "true",
        "DATABASE_URL": f"sqlite:///{DATABASE}",
        "LODESTAR_DATA_ROOT": str(DATA),
        "LODESTAR_VAR_DIR": str(DATA / "var"),
        "TIME_ZONE": "UTC",
        "LOG_LEVEL": "WARNING",
    }


def migrate() -> None:
    """Migrate the benchmark's own SQLite database, in a process of its own (not a measured one)."""
    command = [sys.executable, str(REPO / "manage.py"), "migrate", "--verbosity", "0"]
    subprocess.run(command, env=django_env(), check=True)


# --- PostgreSQL: the same events as a table ----------------------------------------------------


def load_postgres(rows: int) -> None:
    """The events as a table of the scratch database, loaded by COPY of CSV batches; kept while it holds ``rows``."""
    import psycopg
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq
    from common import ensure_database

    ensure_database(PG_URL)
    stamp = f"rows={rows} file={PATH.stat().st_mtime_ns}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        current = conn.execute("SELECT obj_description(to_regclass(%s), 'pg_class')", [TABLE]).fetchone()[0]
        if current == stamp:
            return
        print(f"Loading {rows:,} events into PostgreSQL ({PG_URL}) …", flush=True)
        started = time.perf_counter()
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        conn.execute(
            f"CREATE TABLE {TABLE} (event_id bigint, user_id bigint, event_ts timestamptz, feature text, platform text)"
        )
        options = pacsv.WriteOptions(include_header=False)
        with conn.cursor() as cursor, cursor.copy(f"COPY {TABLE} FROM STDIN (FORMAT csv)") as copy:
            for batch in pq.ParquetFile(PATH).iter_batches(batch_size=200_000):
                buffer = io.BytesIO()
                pacsv.write_csv(batch, buffer, options)
                copy.write(buffer.getbuffer())
        conn.execute(f"ANALYZE {TABLE}")
        conn.execute(f"COMMENT ON TABLE {TABLE} IS '{stamp}'")
        print(f"  loaded in {time.perf_counter() - started:.0f} s", flush=True)


# --- The child: one case on one backend, in its own process ------------------------------------


def set_up_django() -> None:
    os.environ.update(django_env())
    sys.path.insert(0, str(REPO))
    import django

    django.setup()


def make_output(backend: str):
    """The product and its events output (the Parquet file, or the table behind a Connection), with its columns."""
    from django.contrib.auth import get_user_model

    from products.models import Connection, DataProduct, Domain, Output, OutputColumn

    owner = get_user_model().objects.get_or_create(username="bench_owner")[0]
    domain = Domain.objects.get_or_create(slug="usage", defaults={"name": "Usage"})[0]
    product = DataProduct.objects.get_or_create(
        slug="bench-usage", defaults={"name": "Bench usage", "domain": domain, "owner": owner, "status": "published"}
    )[0]
    if backend == "parquet":
        defaults = {"kind": "file", "format": "parquet", "path": PATH.name, "connection": None, "table": ""}
    else:
        connection = Connection.objects.filter(name="bench-events").first() or Connection(name="bench-events")
        connection.set_url(PG_URL)
        connection.save()
        defaults = {"kind": "table", "format": "table", "path": "", "connection": connection, "table": TABLE}
    output = Output.objects.update_or_create(product=product, name=f"events_{backend}", defaults=defaults)[0]
    for order, (name, data_type, role) in enumerate(COLUMNS):
        OutputColumn.objects.update_or_create(
            output=output, name=name, defaults={"data_type": data_type, "role": role, "order": order}
        )
    return product, output


def make_kpi(case: str, backend: str):
    from products.models import KPI

    aggregation, column, dimensions = CASES[case]
    product, output = make_output(backend)
    return KPI.objects.update_or_create(
        product=product,
        name=f"{case} ({backend})",
        defaults={
            "output": output, "aggregation": aggregation, "column": column, "time_column": "event_ts",
            "grain": "day", "dimensions": dimensions,
        },
    )[0]  # fmt: skip


def peak_mb(was_reset: bool) -> float:
    if was_reset:
        return status_kb("VmHWM") / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def first_full_week(points) -> tuple[str, float] | None:
    """The first week of the total whose Monday is on or after the first day the data holds, and its value."""
    days = sorted(point.period_start for point in points if point.grain == "day" and not point.dimension)
    weeks = {point.period_start: point.value for point in points if point.grain == "week" and not point.dimension}
    full = sorted(start for start in weeks if days and start >= days[0])
    return (full[0].isoformat(), weeks[full[0]]) if full else None


def child(case: str, backend: str, repeat: int) -> dict:
    set_up_django()
    from quality.kpis import compute, compute_points, stored_grains

    kpi = make_kpi(case, backend)
    runs, points = [], []
    for _ in range(repeat):
        was_reset = reset_peak()
        started = time.perf_counter()
        points = compute_points(kpi)
        query_s = time.perf_counter() - started
        started = time.perf_counter()
        run = compute(kpi, trigger="request")
        compute_s = time.perf_counter() - started
        if run.status != "ok":
            sys.exit(f"{case} on {backend}: the run failed: {run.error}")
        runs.append({"query_s": query_s, "compute_s": compute_s, "points": run.points, "peak_mb": peak_mb(was_reset)})
    return {
        "case": case,
        "backend": backend,
        "grains": stored_grains(kpi),
        "dimensions": kpi.dimensions,
        "runs": runs,
        "first_full_week": first_full_week(points),
        "rss_after_mb": status_kb("VmRSS") / 1024,
    }


# --- The parent: data, cases, table ------------------------------------------------------------


def run_case(case: str, backend: str, repeat: int) -> dict:
    command = [sys.executable, __file__, "--run", case, backend, "--repeat", str(repeat)]
    done = subprocess.run(command, capture_output=True, text=True, env=django_env(), check=False)
    if done.returncode != 0:
        sys.exit(f"{case} on {backend} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def check_week(result: dict) -> str:
    """The engine's distinct users of the first full week against a direct DuckDB COUNT(DISTINCT) over the file."""
    import duckdb

    if result["first_full_week"] is None:
        sys.exit(f"check FAILED: no full week in the {result['backend']} series")
    monday, engine = result["first_full_week"]
    start = date.fromisoformat(monday)
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute("SET enable_progress_bar = false")
    direct = connection.execute(
        "SELECT COUNT(DISTINCT user_id) FROM read_parquet($path) WHERE event_ts >= $start::TIMESTAMPTZ "
        "AND event_ts < $end::TIMESTAMPTZ",
        {"path": str(PATH), "start": f"{start} 00:00:00+00", "end": f"{start + timedelta(days=7)} 00:00:00+00"},
    ).fetchone()[0]
    if engine != direct:
        sys.exit(
            f"check FAILED ({result['backend']}): week of {monday}: engine {engine}, DuckDB COUNT(DISTINCT) {direct}"
        )
    return f"check: ok ({result['backend']}, week of {monday}: {direct:,} distinct users, engine and DuckDB agree)"


def row(result: dict, rows: int) -> str:
    runs = result["runs"]
    query = [run["query_s"] for run in runs]
    compute = [run["compute_s"] for run in runs]
    return (
        f"| {result['case']} | {result['backend']} | {rows:,} | {', '.join(result['grains'])} "
        f"| {runs[-1]['points']:,} | {statistics.median(query):.2f} ({min(query):.2f}) "
        f"| {statistics.median(compute):.2f} | {max(run['peak_mb'] for run in runs):.0f} |"
    )


def report(results: list[dict], rows: int, repeat: int, checks: list[str]) -> str:
    lines = [
        "| case | backend | rows | grains | points | query s (median, min) | compute+store s (median) | peak RSS MB |",
        "|---|---|---:|---|---:|---:|---:|---:|",
        *(row(result, rows) for result in results),
    ]
    target = next(result for result in results if result["case"] == "distinct_users" and result["backend"] == "parquet")
    median = statistics.median(run["query_s"] for run in target["runs"])
    stored = statistics.median(run["compute_s"] for run in target["runs"])
    load = os.getloadavg()[0]  # the machine is shared: a high load slows every figure above
    verdict = (
        f"Target: distinct users per day, week and month over {rows:,} events (Parquet) in under {TARGET_S:.0f} s: "
        f"query {median:.2f} s, with storing {stored:.2f} s — {'met' if stored < TARGET_S else 'NOT met'}."
    )
    footer = f"{repeat} run(s) per case; {os.cpu_count()} CPUs; load average {load:.1f} at the end."
    return "\n".join([*lines, "", verdict, *checks, footer]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000, help="events in the file (default 10,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each case (default 3)")
    parser.add_argument("--postgres", action="store_true", help=f"also on a PostgreSQL table ({PG_URL})")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated, among: " + ", ".join(CASES))
    parser.add_argument("--run", nargs=2, metavar=("CASE", "BACKEND"), help=argparse.SUPPRESS)  # the child
    args = parser.parse_args()
    if args.run:
        print(json.dumps(child(*args.run, args.repeat)))
        return
    cases = [case for case in args.cases.split(",") if case]
    if args.rows < 1 or args.repeat < 1 or not set(cases) <= set(CASES) or "distinct_users" not in cases:
        parser.error("--rows and --repeat must be at least 1; --cases must include distinct_users")
    ensure_events(args.rows)
    backends = ["parquet", "postgres"] if args.postgres else ["parquet"]
    if args.postgres:
        load_postgres(args.rows)
    migrate()
    results, checks = [], []
    for backend in backends:
        for case in cases:
            print(f"{case} on {backend} …", flush=True)
            results.append(run_case(case, backend, args.repeat))
            if case == "distinct_users":
                checks.append(check_week(results[-1]))
                print(checks[-1], flush=True)
    text = report(results, args.rows, args.repeat, checks)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.md").write_text(text)
    (RESULTS / "latest.json").write_text(json.dumps({"rows": args.rows, "results": results}, indent=2))


if __name__ == "__main__":
    main()
