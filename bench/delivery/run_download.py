"""One measured download, in a process of its own (bench_download.py starts it and reads its JSON line).

A masked reader under a row filter downloads the whole output as CSV through the real view
(``/products/<slug>/outputs/<name>/download.csv``, Django's test client), consuming the stream chunk by
chunk as a client would. Django runs against its own SQLite file beside the data, migrated beforehand by
bench_download.py (a web worker does not migrate); the set-up (users, product, output, grant, rule) is
outside the timing.

    python bench/delivery/run_download.py --data-root DIR --file orders.parquet --database DB.sqlite3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from common import reset_peak, status_kb  # noqa: E402


def set_up(args):
    os.environ.setdefault("LODESTAR_DEMO", "true")
    os.environ["LODESTAR_DATA_ROOT"] = str(args.data_root)
    os.environ["DATABASE_URL"] = f"sqlite:///{args.database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")
    import django

    django.setup()
    return make_world(args.file)  # the database was migrated by bench_download.py, as a deployment would


def make_world(path: str):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from guardian.shortcuts import assign_perm

    from products.models import DataProduct, Domain, Output, OutputColumn, RowFilter

    users = get_user_model().objects
    owner = users.get_or_create(username="bench_owner")[0]
    reader = users.get_or_create(username="bench_reader")[0]
    domain = Domain.objects.get_or_create(slug="sales", defaults={"name": "Sales"})[0]
    product = DataProduct.objects.get_or_create(
        slug="bench-orders", defaults={"name": "Bench orders", "domain": domain, "owner": owner, "status": "published"}
    )[0]
    output = Output.objects.update_or_create(product=product, name="orders", defaults={"path": path})[0]
    for order, (name, data_type, classification, masking) in enumerate(COLUMNS):
        OutputColumn.objects.update_or_create(
            output=output, name=name,
            defaults={"data_type": data_type, "classification": classification, "masking": masking, "order": order},
        )  # fmt: skip
    team = Group.objects.get_or_create(name="Bench regions")[0]
    reader.groups.add(team)
    assign_perm("products.read_output", reader, output)
    RowFilter.objects.get_or_create(output=output, group=team, column="region", defaults={"values": VISIBLE})
    return reader, product, output


COLUMNS = [
    ("order_id", "integer", "internal", "redact"),
    ("customer_email", "string", "pii", "partial"),
    ("customer_phone", "string", "pii", "hash"),
    ("region", "string", "internal", "redact"),
    ("amount", "float", "internal", "redact"),
    ("ordered_at", "timestamp", "internal", "redact"),
]
VISIBLE = ["North", "South", "East"]  # the reader's rule; West is filtered out


def download(reader, product, output) -> dict:
    from django.test import Client
    from django.urls import reverse

    client = Client()
    client.force_login(reader)
    url = reverse("products:output-download-csv", kwargs={"slug": product.slug, "name": output.name})
    rss_before = status_kb("VmRSS")
    peak_reset = reset_peak()
    started, cpu_started = time.perf_counter(), time.process_time()
    response = client.get(url)
    size = lines = chunks = 0
    first = b""
    for chunk in response.streaming_content:
        size += len(chunk)
        lines += chunk.count(b"\n")
        chunks += 1
        first = first or chunk[:400]
    seconds = time.perf_counter() - started
    return {
        "status": response.status_code,
        "rows": lines - 1,  # the header; every cell is one line (no value here holds a newline)
        "bytes": size,
        "chunks": chunks,
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu_started,
        "rss_before_mb": rss_before / 1024,
        "download_peak_mb": status_kb("VmHWM") / 1024 if peak_reset else None,
        "process_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "sample": first.decode(errors="replace").splitlines()[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--file", required=True, help="the Parquet file, relative to the data root")
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument("--batch-rows", type=int, help="override products.delivery.BATCH_ROWS")
    args = parser.parse_args()
    world = set_up(args)
    if args.batch_rows:
        from products import delivery

        delivery.BATCH_ROWS = args.batch_rows
    result = download(*world)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
