"""Dashboard benchmark: a dashboard page with six charts from stored series (quality/views_dashboards.py).

    make bench-dashboard                                            # 1M orders, 20 warm-up + 200 requests
    make bench-dashboard BENCH_DASHBOARD_ARGS="--rows 200000 --requests 50"

Target (issue): a dashboard page with six charts from stored series, p95 server time under 200 ms.

A year of orders (``day``, ``region``, ``channel``, ``revenue``, ``customer_id``; ~1M rows of Parquet, seeded)
behind one output; three KPIs over it, computed once by the KPI engine (``quality.kpis.compute``) into stored
daily, weekly and monthly points: revenue (sum) and average order (avg) broken down by region and channel,
customers (distinct count) by region. The dashboard shows three cards (the range against the range before:
the distinct count is computed where the data lives once, then cached) and six charts, all from stored points:
three trends (month, month, week) and three breakdowns (revenue by region and by channel, average order by
channel). Its range is the whole year.

The page is asked for through Django's test client (so the figures are server time: view, queries,
templates) as a signed-in reader who is not the product's owner: 20 warm-up requests, then 200 measured,
for all regions and with ``?region=North``. Queries per request are counted on every measured request.

Data, SQLite database and var dir: bench/kpis/data/ (the Parquet file is kept while it holds --rows rows;
the database is made anew each run). Results: bench/kpis/results/dashboard.md.
"""

from __future__ import annotations

import argparse
import math
import os
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
DATABASE = DATA / "dashboard.sqlite3"
TARGET_P95_MS = 200.0
DAYS = 365
REGIONS = ["North", "East", "South", "West"]
CHANNELS = ["store", "web", "mobile_app", "marketplace"]

COLUMNS = [
    ("day", "date", "time"),
    ("region", "string", "dimension"),
    ("channel", "string", "dimension"),
    ("revenue", "float", "measure"),
    ("customer_id", "integer", "key"),
]
KPIS = [
    # name, aggregation, column, unit, dimensions
    ("Revenue", "sum", "revenue", "EUR", ["region", "channel"]),
    ("Customers", "count_distinct", "customer_id", "customers", ["region"]),
    ("Average order", "avg", "revenue", "EUR", ["region", "channel"]),
]
TILES = [
    {"show": "card", "kpi": "Revenue", "title": "Total revenue"},
    {"show": "card", "kpi": "Customers"},
    {"show": "card", "kpi": "Average order"},
    {"show": "trend", "kpi": "Revenue", "grain": "month", "title": "Monthly revenue"},
    {"show": "breakdown", "kpi": "Revenue", "dimension": "region", "title": "Revenue by region"},
    {"show": "trend", "kpi": "Customers", "grain": "month", "title": "Customers by month"},
    {"show": "breakdown", "kpi": "Revenue", "dimension": "channel", "title": "Revenue by channel"},
    {"show": "trend", "kpi": "Average order", "grain": "week", "title": "Average order by week"},
    {"show": "breakdown", "kpi": "Average order", "dimension": "channel", "title": "Average order by channel"},
]


def django_env() -> dict[str, str]:
    """The benchmark's own SQLite database, data root and var dir (as bench_kpis.py sets them up)."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "hub.settings",
        "LODESTAR_DEMO": "true",
        "DATABASE_URL": f"sqlite:///{DATABASE}",
        "LODESTAR_DATA_ROOT": str(DATA),
        "LODESTAR_VAR_DIR": str(DATA / "var-dashboard"),
        "LOG_LEVEL": "WARNING",
    }


def prepare_database() -> None:
    """A fresh database, migrated, and the static files the page links (in processes of their own)."""
    DATABASE.unlink(missing_ok=True)
    for command in (["migrate", "--verbosity", "0"], ["collectstatic", "--noinput", "--verbosity", "0"]):
        subprocess.run([sys.executable, str(REPO / "manage.py"), *command], env=django_env(), check=True)


def parquet_path(rows: int) -> Path:
    return DATA / f"dashboard_orders_{rows}.parquet"


def ensure_orders(rows: int, last_day: date) -> Path:
    """A year of orders up to ``last_day``, seeded: busier regions and channels, growth over the year."""
    path = parquet_path(rows)
    stamp = path.with_suffix(".day")
    if path.exists() and stamp.exists() and stamp.read_text() == last_day.isoformat():
        return path
    import numpy as np
    import pandas as pd

    print(f"Writing {rows:,} orders to {path} …", flush=True)
    random = np.random.default_rng(20261123)
    growth = np.linspace(0.8, 1.2, DAYS)
    offsets = random.choice(DAYS, size=rows, p=growth / growth.sum())
    frame = pd.DataFrame(
        {
            "day": pd.to_datetime(last_day - timedelta(days=DAYS - 1)) + pd.to_timedelta(offsets, unit="D"),
            "region": random.choice(REGIONS, size=rows, p=[0.34, 0.26, 0.22, 0.18]),
            "channel": random.choice(CHANNELS, size=rows, p=[0.4, 0.3, 0.2, 0.1]),
            "revenue": np.round(random.lognormal(3.9, 0.6, size=rows), 2),
            "customer_id": random.integers(1, 60_000, size=rows),
        }
    )
    frame["day"] = frame["day"].dt.date
    DATA.mkdir(parents=True, exist_ok=True)
    frame.sort_values("day").to_parquet(path, index=False, row_group_size=250_000)
    stamp.write_text(last_day.isoformat())
    return path


def build_world(path: Path):
    """The product, its orders output, the three KPIs computed, the dashboard and a reader."""
    from django.contrib.auth import get_user_model

    from products.models import KPI, Dashboard, DataProduct, Domain, Output, OutputColumn
    from quality import kpis

    users = get_user_model().objects
    owner = users.create_user("bench_owner")
    reader = users.create_user("bench_reader")
    domain = Domain.objects.create(slug="sales", name="Sales")
    product = DataProduct.objects.create(
        slug="bench-sales", name="Bench sales", domain=domain, owner=owner, status="published"
    )
    output = Output.objects.create(product=product, name="orders", path=path.name)
    for order, (name, data_type, role) in enumerate(COLUMNS):
        OutputColumn.objects.create(output=output, name=name, data_type=data_type, role=role, order=order)
    started = time.perf_counter()
    for name, aggregation, column, unit, dimensions in KPIS:
        kpi = KPI.objects.create(
            product=product, output=output, name=name, level="l1", aggregation=aggregation, column=column,
            time_column="day", grain="day", unit=unit, dimensions=dimensions,
        )  # fmt: skip
        run = kpis.compute(kpi)
        if run.status != "ok":
            sys.exit(f"Computing {name} failed: {run.error}")
    print(f"Computed {len(KPIS)} KPIs over {path.name} in {time.perf_counter() - started:.1f} s", flush=True)
    dashboard = Dashboard.objects.create(
        product=product, name="Bench sales", default_days=DAYS, filters=["region"], tiles=TILES
    )
    return dashboard, reader


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def measure(client, url: str, warmup: int, requests: int) -> dict:
    from django.db import connection

    counted = [0]

    def count(execute, sql, params, many, context):
        counted[0] += 1
        return execute(sql, params, many, context)

    for _ in range(warmup):
        response = client.get(url)
        assert response.status_code == 200, response.status_code
    samples, queries = [], []
    with connection.execute_wrapper(count):
        for _ in range(requests):
            counted[0] = 0
            started = time.perf_counter()
            response = client.get(url)
            samples.append((time.perf_counter() - started) * 1000)
            queries.append(counted[0])
            assert response.status_code == 200, response.status_code
    charts = response.content.decode().count('data-tile="trend"') + response.content.decode().count(
        'data-tile="breakdown"'
    )
    return {
        "median": statistics.median(samples),
        "p95": percentile(samples, 95),
        "max": max(samples),
        "queries": max(queries),
        "charts": charts,
    }


def report(results: dict[str, dict], args, rows: int) -> str:
    lines = [
        f"Dashboard page, {rows:,} orders, 3 cards + 6 charts, a {DAYS}-day range, "
        f"{args.warmup} warm-up + {args.requests} measured requests (Django test client, SQLite)",
        "",
        "| request | charts | median ms | p95 ms | max ms | queries / request | p95 < 200 ms |",
        "|---|--:|--:|--:|--:|--:|:-:|",
    ]
    for name, r in results.items():
        ok = "yes" if r["p95"] < TARGET_P95_MS else "**no**"
        lines.append(
            f"| {name} | {r['charts']} | {r['median']:.1f} | {r['p95']:.1f} | {r['max']:.1f} | {r['queries']} | {ok} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="orders in the Parquet file (default 1M)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    prepare_database()
    os.environ.update(django_env())
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.test import Client

    from quality import kpis

    path = ensure_orders(args.rows, kpis.local_today() - timedelta(days=1))
    dashboard, reader = build_world(path)
    client = Client()
    client.force_login(reader)
    url = dashboard.get_absolute_url()
    results = {
        "all regions": measure(client, url, args.warmup, args.requests),
        "?region=North": measure(client, f"{url}?region=North", args.warmup, args.requests),
    }
    text = report(results, args, args.rows)
    print()
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "dashboard.md").write_text(text)
    print(f"Written to {RESULTS / 'dashboard.md'}")


if __name__ == "__main__":
    main()
