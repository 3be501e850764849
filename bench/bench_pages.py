"""Latency of the pages people use most, on 10,000 products, for a product manager and for an admin.

    make bench                                   # in-process (Django test client): server time only
    make bench BENCH_ARGS="--http"               # also over HTTP against gunicorn (2 workers × 4 threads)
    make bench BENCH_ARGS="--queries"            # also list each page's queries, slowest first
    make bench BENCH_ARGS="--rebuild"            # drop lodestar_bench and build the dataset anew

Needs PostgreSQL (DATABASE_URL; make bench uses postgres://postgres@127.0.0.1:5432/lodestar_bench and creates
the database). The first run migrates it and builds the dataset (make_products.py, about two minutes);
later runs reuse it. Results are printed as a Markdown table and kept in bench/results/.
"""
# ruff: noqa: E402  (Django must be set up before the models are imported)

from __future__ import annotations

import argparse
import datetime as dt
import http.cookiejar
import json
import math
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass

from common import REPO, RESULTS, drop_database, setup_django

TARGET_P95_MS = 100.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="measured requests per page and user")
    parser.add_argument("--warmup", type=int, default=20, help="requests before measuring")
    parser.add_argument("--products", type=int, default=10_000, help="size of the dataset when it is built")
    parser.add_argument("--search", default="churn", help="the word searched through the API")
    parser.add_argument("--http", action="store_true", help="also measure over HTTP against gunicorn")
    parser.add_argument("--queries", action="store_true", help="list each page's SQL queries, slowest first")
    parser.add_argument("--rebuild", action="store_true", help="drop the benchmark database and build it anew")
    return parser.parse_args()


args = parse_args()
if args.rebuild:
    drop_database(os.environ.get("DATABASE_URL", ""))
setup_django()

import make_products
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from products import choices
from products.models import DataProduct


@dataclass
class Target:
    name: str
    path: str
    api: bool = False


@dataclass
class Result:
    page: str
    user: str
    via: str
    status: int
    queries: int | None
    median_ms: float
    p95_ms: float
    max_ms: float
    cpu_ms: float | None  # median CPU time of this process per request: Python's share, steadier on a busy machine


def prepare() -> None:
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    if not make_products.dataset_exists():
        print(f"Building the dataset ({args.products} products)…", flush=True)
        make_products.build(args.products)
    # What autovacuum would do after a bulk load: statistics for the planner, and the visibility
    # map that lets facet counts read the index alone.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def targets() -> list[Target]:
    # A published product in the middle of the set that reads another product's output (lineage to draw).
    readers = DataProduct.objects.filter(status=choices.Status.PUBLISHED, inputs__source_output__isnull=False)
    product = readers.order_by("pk")[readers.count() // 2]
    return [
        Target("home page /", "/"),
        Target("product page", product.get_absolute_url()),
        Target(
            f"API search ?search={args.search}", f"/api/v1/products/?search={urllib.parse.quote(args.search)}", api=True
        ),
    ]


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def measure(fetch: Callable[[], int], page: str, user: str, via: str, queries: int | None) -> Result:
    status = 0
    for _ in range(args.warmup):
        status = fetch()
    samples, cpu = [], []
    for _ in range(args.requests):
        started, cpu_started = time.perf_counter(), time.process_time()
        status = fetch()
        samples.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    return Result(
        page=page,
        user=user,
        via=via,
        status=status,
        queries=queries,
        median_ms=statistics.median(samples),
        p95_ms=percentile(samples, 95),
        max_ms=max(samples),
        cpu_ms=statistics.median(cpu),
    )


# --- In process: the Django test client, so the figures are server time ------------------------


def in_process_client(user, target: Target) -> Callable[[], int]:
    client = Client(raise_request_exception=False)  # a broken page is a 500 in the table, not a crash
    if target.api:
        token = Token.objects.get_or_create(user=user)[0].key
        return lambda: client.get(target.path, HTTP_AUTHORIZATION=f"Token {token}").status_code
    client.force_login(user)
    return lambda: client.get(target.path).status_code


def count_queries(fetch: Callable[[], int], target: Target) -> int:
    with CaptureQueriesContext(connection) as captured:
        fetch()
    if args.queries:
        show_queries(target, captured.captured_queries)
    return len(captured.captured_queries)


def show_queries(target: Target, queries: list[dict]) -> None:
    total = sum(float(q["time"]) for q in queries) * 1000
    print(f"\n### {target.name} — {len(queries)} queries, {total:.1f} ms in the database")
    repeated = Counter(re.sub(r"\b\d+\b", "N", q["sql"]) for q in queries)
    for sql, times in repeated.most_common(3):
        if times > 1:
            print(f"  repeated ×{times}: {sql[:160]}")
    for q in sorted(queries, key=lambda q: -float(q["time"]))[:8]:
        print(f"  {float(q['time']) * 1000:7.1f} ms  {q['sql'][:300]}")


def run_in_process(users: dict) -> list[Result]:
    results = []
    for target in targets():
        for label, user in users.items():
            fetch = in_process_client(user, target)
            fetch()  # the first request pays for imports and template loading
            queries = count_queries(fetch, target)
            results.append(measure(fetch, target.name, label, "in-process", queries))
            print_progress(results[-1])
    return results


# --- Over HTTP: gunicorn as make run starts it, requests from this process ------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(port: int) -> subprocess.Popen:
    command = [
        *(sys.executable, "-m", "gunicorn", "hub.wsgi"),
        *("--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4", "--no-control-socket"),
    ]
    log = (RESULTS / "gunicorn.log").open("wb")
    server = subprocess.Popen(command, cwd=REPO, env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2)
            return server
        except urllib.error.HTTPError:
            return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not start; see bench/results/gunicorn.log")


def signed_in_opener(base: str, username: str) -> urllib.request.OpenerDirector:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(f"{base}/login/").read().decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = {"username": username, "password": make_products.PASSWORD, "csrfmiddlewaretoken": csrf}
    opener.open(f"{base}/login/", data=urllib.parse.urlencode(form).encode())
    return opener


def http_client(base: str, user, target: Target) -> Callable[[], int]:
    if target.api:
        token = Token.objects.get_or_create(user=user)[0].key
        opener = urllib.request.build_opener()
        opener.addheaders = [("Authorization", f"Token {token}")]
    else:
        opener = signed_in_opener(base, user.username)

    def fetch() -> int:
        try:
            with opener.open(base + target.path, timeout=30) as response:
                response.read()
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    return fetch


def run_over_http(users: dict) -> list[Result]:
    port = free_port()
    server = start_gunicorn(port)
    base = f"http://127.0.0.1:{port}"
    results = []
    try:
        for target in targets():
            for label, user in users.items():
                result = measure(http_client(base, user, target), target.name, label, "HTTP", None)
                result.cpu_ms = None  # the client's CPU time, not the server's
                results.append(result)
                print_progress(results[-1])
    finally:
        server.terminate()
        server.wait(timeout=30)
    return results


# --- Report -------------------------------------------------------------------------------------


def print_progress(result: Result) -> None:
    print(f"  {result.via:10} {result.page:32} {result.user:8} {result.median_ms:7.1f} ms median", flush=True)


def machine() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{dt.date.today().isoformat()} · {platform.machine()} · {os.cpu_count()} cores (load {load}) · "
        f"Python {platform.python_version()} · PostgreSQL {pg_version} · "
        f"{DataProduct.objects.count():,} products · {args.warmup} warm-up + {args.requests} requests each"
    )


def table(results: list[Result]) -> str:
    lines = [
        "| page | user | via | status | queries | median ms | p95 ms | max ms | CPU ms | p95 < 100 ms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ok = "yes" if r.status == 200 and r.p95_ms < TARGET_P95_MS else "**no**"
        queries = "" if r.queries is None else str(r.queries)
        cpu = "" if r.cpu_ms is None else f"{r.cpu_ms:.1f}"
        lines.append(
            f"| {r.page} | {r.user} | {r.via} | {r.status} | {queries} | "
            f"{r.median_ms:.1f} | {r.p95_ms:.1f} | {r.max_ms:.1f} | {cpu} | {ok} |"
        )
    return "\n".join(lines)


def main() -> None:
    prepare()
    people = get_user_model().objects
    users = {"pm": people.get(username=make_products.BENCH_PM), "admin": people.get(username=make_products.BENCH_ADMIN)}
    results = run_in_process(users)
    if args.http:
        results += run_over_http(users)
    report = f"{machine()}\n\n{table(results)}\n"
    print("\n" + report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.md").write_text(report)
    (RESULTS / "latest.json").write_text(json.dumps([asdict(r) for r in results], indent=2))
    if any(r.status != 200 for r in results):
        raise SystemExit("Some pages did not answer 200: the figures above are not measurements of the page.")


if __name__ == "__main__":
    main()
