"""Import 1,000 spec files and export them back, on SQLite and on PostgreSQL (issue 5).

Targets: import under 60 s, export under 30 s. The files are the demo's four products, each
copied 250 times under new slugs (about 10 KB each: goals, hypotheses, outputs with their
columns, checks and row filters, KPIs, SLOs, inputs reading the demo's own outputs). Each backend
runs in a process of its own on a fresh database, through the real commands:

    import_specs DIR --as admin      one invocation, one transaction, every file
    import_specs DIR --as admin      again: nothing changes, nothing is written
    export_specs DIR2                every product, one file each

    make bench-specs                                 # both backends, 1,000 files
    make bench-specs BENCH_SPECS_ARGS="--files 200 --backend sqlite"

Prints a table and writes bench/results/specs.md.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results"
PG_URL = "postgres://postgres@127.0.0.1:5432/lodestar_bench_specs"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000, help="spec files to import (default 1000)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--run", choices=["sqlite", "postgresql"], help=argparse.SUPPRESS)  # the child process
    return parser.parse_args()


# --- The child: one backend, in its own process ------------------------------------------------


def setup(backend: str, var_dir: Path) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "hub.settings"
    os.environ["LODESTAR_DEMO"] = "true"
    os.environ["LODESTAR_VAR_DIR"] = str(var_dir)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if backend == "postgresql":
        sys.path.insert(0, str(REPO / "bench"))
        from common import drop_database, ensure_database

        drop_database(PG_URL)
        ensure_database(PG_URL)
        os.environ["DATABASE_URL"] = PG_URL
    else:
        os.environ.pop("DATABASE_URL", None)
    sys.path.insert(0, str(REPO))
    import django

    django.setup()


def write_files(folder: Path, count: int) -> int:
    """``count`` spec files made from the demo's products under new slugs; returns their total bytes."""
    from products.models import DataProduct
    from products.specs.document import dump, to_document

    templates = [to_document(product) for product in DataProduct.objects.order_by("slug")]
    total = 0
    for n in range(count):
        document = copy.deepcopy(templates[n % len(templates)])
        document["metadata"]["slug"] = f"{document['metadata']['slug'][:80]}-{n:04d}"
        document["metadata"]["name"] = f"Bench product {n:04d}"
        text = dump(document)
        (folder / f"{document['metadata']['slug']}.yaml").write_text(text)
        total += len(text.encode())
    return total


def timed(*args: str) -> float:
    from django.core.management import call_command

    started = time.perf_counter()
    call_command(*args, stdout=io.StringIO())
    return time.perf_counter() - started


def child(backend: str, count: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        setup(backend, tmp_path / "var")
        from django.core.management import call_command

        from products.models import DataProduct

        call_command("migrate", verbosity=0)
        call_command("seed_demo", "--rows", "200", stdout=io.StringIO())
        source, target = tmp_path / "in", tmp_path / "out"
        source.mkdir()
        target.mkdir()
        size = write_files(source, count)
        before = DataProduct.objects.count()
        first = timed("import_specs", str(source), "--as", "admin")
        imported = DataProduct.objects.count() - before
        again = timed("import_specs", str(source), "--as", "admin")
        export = timed("export_specs", str(target))
        exported = len(list(target.glob("*.yaml")))
    return {
        "backend": backend,
        "files": count,
        "kb_per_file": size / count / 1024,
        "imported": imported,
        "import_s": first,
        "reimport_s": again,
        "export_s": export,
        "exported": exported,
    }


# --- The parent: a process per backend, and the table ----------------------------------------


def run_backend(backend: str, count: int) -> dict:
    command = [sys.executable, __file__, "--run", backend, "--files", str(count)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def table(results: list[dict]) -> str:
    lines = [
        "| backend | files | KB/file | import s | files/s | re-import (unchanged) s | export s | files/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['backend']} | {r['imported']:,} | {r['kb_per_file']:.1f} | {r['import_s']:.1f} | "
            f"{r['imported'] / r['import_s']:.0f} | {r['reimport_s']:.1f} | {r['export_s']:.1f} | "
            f"{r['exported'] / r['export_s']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    if args.run:
        print(json.dumps(child(args.run, args.files)))
        return
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = [run_backend(backend, args.files) for backend in backends]
    report = table(results) + "\n\nTargets: import < 60 s, export < 30 s (1,000 files)."
    print(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "specs.md").write_text(report + "\n")


if __name__ == "__main__":
    main()
