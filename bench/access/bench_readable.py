"""Listing the outputs a user may read, among 100,000, when they hold 1,000 object grants (issue 4).

Target: p95 under 50 ms on PostgreSQL. The reader's 1,000 grants come from every source the
policy reads: access grants to the user and to their group (in force, plus expired and revoked
ones that must not count), and guardian object permissions to the user and to the group. Other
users hold grants too, so the tables are not the reader's alone.

    make bench-access                       # build on first use, then measure
    make bench-access BENCH_ACCESS_ARGS="--rebuild --requests 500"

Prints a table and writes bench/results/access.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import RESULTS, drop_database, setup_django  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/lodestar_bench_access"
PRODUCTS, OUTPUTS_PER_PRODUCT = 5_000, 20
OTHER_USERS, GRANTS_PER_OTHER_USER = 200, 250
# The reader's 1,000 grants, by where they come from.
READER_GRANTS = {"user grant": 400, "group grant": 200, "user permission": 250, "group permission": 150}
READER_DEAD_GRANTS = 300  # expired or revoked: they must not count


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="measured requests per case (default 200)")
    parser.add_argument("--rebuild", action="store_true", help="drop the database and build the dataset again")
    return parser.parse_args()


def build() -> None:
    """100,000 published outputs and the grants; skipped when the dataset is already there."""
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if User.objects.filter(username="bench_reader").exists():
        return
    started = time.perf_counter()
    products = make_products()
    outputs = make_outputs(products)
    reader = User.objects.create_user("bench_reader", password="bench")
    group = Group.objects.create(name="Bench readers")
    reader.groups.add(group)
    grant_reader(reader, group, outputs)
    grant_others(outputs)
    analyze()
    print(f"built {len(outputs):,} outputs and their grants in {time.perf_counter() - started:.0f} s", flush=True)


def analyze() -> None:
    """Fresh planner statistics after the bulk load, as autovacuum would give a real database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def make_products() -> list:
    from django.contrib.auth.models import User

    from products.models import DataProduct, Domain

    owner = User.objects.create_user("bench_owner")
    domain = Domain.objects.create(name="Bench", slug="bench")
    rows = [
        DataProduct(slug=f"bench-{i}", name=f"Bench product {i}", domain=domain, owner=owner, status="published")
        for i in range(PRODUCTS)
    ]
    return DataProduct.objects.bulk_create(rows, batch_size=2_000)


def make_outputs(products: list) -> list:
    from products.models import Output

    rows = [
        Output(product=product, name=f"output_{n}", path=f"{product.slug}/output_{n}.parquet")
        for product in products
        for n in range(OUTPUTS_PER_PRODUCT)
    ]
    return Output.objects.bulk_create(rows, batch_size=5_000)


def grant_reader(reader, group, outputs: list) -> None:
    """The reader's grants, spread over the outputs (every 61st output, no output twice)."""
    from django.utils import timezone

    from access.models import AccessGrant
    from products.models import OutputGroupObjectPermission, OutputUserObjectPermission

    chosen = iter(outputs[::61])
    take = {kind: [next(chosen) for _ in range(count)] for kind, count in READER_GRANTS.items()}
    dead = [next(chosen) for _ in range(READER_DEAD_GRANTS)]
    now = timezone.now()
    grants = [grant_row(o, user=reader, expires=now + timedelta(days=30)) for o in take["user grant"]]
    grants += [grant_row(o, group=group, expires=now + timedelta(days=30)) for o in take["group grant"]]
    grants += [grant_row(o, user=reader, expires=now - timedelta(days=1)) for o in dead[::2]]
    grants += [grant_row(o, user=reader, revoked=now) for o in dead[1::2]]
    AccessGrant.objects.bulk_create(grants, batch_size=5_000)
    permission = read_permission()
    OutputUserObjectPermission.objects.bulk_create(
        OutputUserObjectPermission(permission=permission, user=reader, content_object=o)
        for o in take["user permission"]
    )
    OutputGroupObjectPermission.objects.bulk_create(
        OutputGroupObjectPermission(permission=permission, group=group, content_object=o)
        for o in take["group permission"]
    )


def grant_others(outputs: list) -> None:
    from django.contrib.auth.models import User

    from access.models import AccessGrant

    users = User.objects.bulk_create(User(username=f"bench_user_{i}") for i in range(OTHER_USERS))
    rows = [
        grant_row(outputs[(i * 7919 + n * 31) % len(outputs)], user=user)
        for i, user in enumerate(users)
        for n in range(GRANTS_PER_OTHER_USER)
    ]
    AccessGrant.objects.bulk_create(rows, batch_size=5_000)


def grant_row(output, *, user=None, group=None, expires=None, revoked=None):
    from django.contrib.contenttypes.models import ContentType

    from access.models import AccessGrant

    return AccessGrant(
        content_type=ContentType.objects.get_for_model(output),
        object_id=output.pk,
        user=user,
        group=group,
        level="masked",
        expires_at=expires,
        revoked_at=revoked,
    )


def read_permission():
    from django.contrib.auth.models import Permission

    return Permission.objects.get(codename="read_output", content_type__app_label="products")


def cases(reader) -> list[tuple[str, Callable[[], int]]]:
    from django.test import Client

    from access import policy
    from products.models import Output

    granted = policy.readable(Output.objects.all(), reader).order_by("pk").first()
    client = Client()
    client.force_login(reader)

    def first_page() -> int:
        readable = policy.readable(Output.objects.all(), reader)
        return len(list(readable.order_by("product__slug", "name")[:50])) + readable.count()

    def api_page() -> int:
        return client.get("/api/v1/outputs/", {"readable": "masked"}).status_code

    def one_output() -> int:
        fresh = Output.objects.select_related("product").get(pk=granted.pk)
        return policy.read_level(reader, fresh) is not None

    return [
        ("readable outputs: first 50 + count", first_page),
        ("GET /api/v1/outputs/?readable=masked", api_page),
        ("read_level of one granted output", one_output),
    ]


def measure(fetch: Callable[[], int], requests: int) -> dict:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    for _ in range(20):
        fetch()
    with CaptureQueriesContext(connection) as captured:
        fetch()
    queries = len(captured)  # before reset_queries(), which empties what the context reads
    reset_queries()
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        fetch()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "p50": statistics.median(samples),
        "p95": samples[max(0, round(0.95 * len(samples)) - 1)],
        "max": samples[-1],
        "queries": queries,
    }


def check_answer(reader) -> int:
    """How many outputs the reader may read: exactly the live grants, whatever their source."""
    from access import policy
    from products.models import Output

    count = policy.readable(Output.objects.all(), reader).count()
    expected = sum(READER_GRANTS.values())
    assert count == expected, f"the reader reads {count} outputs, expected {expected}"
    return count


def main() -> None:
    args = parse_args()
    os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
    if args.rebuild:
        drop_database(os.environ["DATABASE_URL"])
    setup_django()
    build()
    from django.contrib.auth.models import User

    from products.models import Output

    reader = User.objects.get(username="bench_reader")
    readable = check_answer(reader)
    lines = [
        f"{Output.objects.count():,} outputs; the reader holds {readable:,} live grants "
        f"(+{READER_DEAD_GRANTS} expired or revoked); {OTHER_USERS * GRANTS_PER_OTHER_USER:,} grants to others",
        "",
        "| case | p50 ms | p95 ms | max ms | queries |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, fetch in cases(reader):
        result = measure(fetch, args.requests)
        lines.append(
            f"| {name} | {result['p50']:.1f} | {result['p95']:.1f} | {result['max']:.1f} | {result['queries']} |"
        )
    report = "\n".join(lines)
    print(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "access.md").write_text(report + "\n")


if __name__ == "__main__":
    main()
