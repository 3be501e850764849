"""Lodestar's quality engine against Great Expectations (GX Core) and Soda Core 4: the same checks on the same data.

    make bench-quality                                        # 10 million rows, 3 runs of each tool on each source
    make bench-quality BENCH_QUALITY_ARGS="--rows 200000"      # a quick look
    .venv/bin/python bench/quality/bench_checks.py --rows 200000 --repeat 1 --tools lodestar,soda

The standard check set on an orders table (make_orders.py): row count > 0, no missing amount, no duplicate
order_id, no region outside the allowed set, no customer_email failing the email regex, no negative amount
(invalid with a minimum of 0), the newest ordered_at at most 48 h old, and the schema (columns and types).
Each tool reads two sources: the Parquet file and the same rows in a PostgreSQL table.

Every run is a process of its own (run_lodestar.py, run_gx.py, run_soda.py), in the tool's own
virtualenv: GX and Soda live in bench/quality/.venvs/, made and installed here from
requirements-gx.txt and requirements-soda.txt when missing or changed (made anew, so that an older
Soda Core never lingers beside a newer one). The figures per tool and source: the median wall time of
the checks (from opening the source to having every result) and of the whole process (interpreter,
imports and set-up included), the peak RSS of the process (``ru_maxrss`` from ``wait4``; the
PostgreSQL server's own memory is not in it), and how much the process grew while checking (its RSS
before the checks, and its peak during them, from /proc/self/status after resetting the peak). The
observed values are compared with a reference computed by DuckDB from the file, in each tool's own terms.

Needs PostgreSQL at 127.0.0.1:5432 (user postgres; BENCH_QUALITY_SERVER overrides the server URL):
the database lodestar_bench_quality is made if missing. Results: bench/quality/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
VENVS = HERE / ".venvs"
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

import make_orders  # noqa: E402
import spec  # noqa: E402

# soda_view: Soda 4 handed a DuckDB connection in which the table is a view over the file (Parquet only).
TOOLS = ["lodestar", "gx", "soda", "soda_view"]
VENV_OF = {"lodestar": "lodestar", "gx": "gx", "soda": "soda", "soda_view": "soda"}
SOURCES = ["parquet", "postgres"]
TOOL_NAMES = {
    "lodestar": "Lodestar engine",
    "gx": "Great Expectations",
    "soda": "Soda Core 4",
    "soda_view": "Soda Core 4 (view over the file)",
}
HOW = {
    ("lodestar", "parquet"): "DuckDB scans the file (500 MB cap, 2 threads): one aggregate query",
    ("lodestar", "postgres"): "one aggregate query pushed down (SQLAlchemy, psycopg 3)",
    ("gx", "parquet"): "pandas data source: the whole file read into a DataFrame",
    ("gx", "postgres"): "SQL data source: queries per expectation (SQLAlchemy, psycopg2)",
    ("soda", "parquet"): "soda-duckdb, the file as its database: copied into an in-memory table, one aggregate query",
    ("soda", "postgres"): "soda-postgres: one aggregate query pushed down (psycopg 3)",
    ("soda_view", "parquet"): "soda-duckdb on an existing connection: a view over read_parquet, one aggregate query",
}
REQUIREMENTS = {"gx": HERE / "requirements-gx.txt", "soda": HERE / "requirements-soda.txt"}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the orders data")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each tool on each source (the median is shown)")
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated, of {', '.join(TOOLS)}")
    parser.add_argument("--sources", default=",".join(SOURCES), help=f"comma-separated, of {', '.join(SOURCES)}")
    parser.add_argument("--rebuild", action="store_true", help="make the data again even if it holds --rows rows")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds before a run is stopped")
    return parser.parse_args()


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- Virtualenvs --------------------------------------------------------------------------


def venv_python(tool: str) -> Path:
    return Path(sys.executable) if tool == "lodestar" else VENVS / VENV_OF[tool] / "bin" / "python"


def ensure_venv(tool: str) -> str | None:
    """Make the tool's virtualenv and install its requirements when they changed; the pip error if that fails."""
    tool = VENV_OF[tool]
    if tool == "lodestar":
        return None
    requirements = REQUIREMENTS[tool]
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    stamp = VENVS / tool / ".installed"
    if stamp.is_file() and stamp.read_text() == digest and venv_python(tool).exists():
        return None
    log(f"Installing {tool} into {(VENVS / tool).relative_to(REPO)} from {requirements.name}…")
    shutil.rmtree(VENVS / tool, ignore_errors=True)  # anew: no package of an older pin stays behind
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(VENVS / tool)], check=True)
    pip = [str(venv_python(tool)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    done = subprocess.run([*pip, "-r", str(requirements)], capture_output=True, text=True)
    if done.returncode:
        lines = [line for line in done.stderr.splitlines() if line.strip() and not line.startswith("WARNING")]
        return f"pip install -r {requirements.name} failed: {(lines or ['?'])[-1][:200]}"
    stamp.write_text(digest)
    return None


# --- Reference values ------------------------------------------------------------------------


def data(rows: int, rebuild: bool) -> dict:
    """Make the data if needed and count the reference values, in a process of its own (numpy, pyarrow, DuckDB)."""
    flags = ["--rebuild"] if rebuild else []
    done = subprocess.run(
        [sys.executable, str(HERE / "make_orders.py"), "--rows", str(rows), "--reference", *flags],
        stdout=subprocess.PIPE, text=True, check=True,
    )  # fmt: skip
    found = last_json(done.stdout)
    found["reference"]["freshness"] = as_time(found["reference"]["freshness"])
    return found


def expected_outcomes(ref: dict) -> dict:
    fresh = dt.datetime.now(dt.UTC) - ref["freshness"] <= dt.timedelta(hours=spec.MAX_AGE_HOURS)
    return {
        "row_count": "pass" if ref["row_count"] > 0 else "fail",
        "missing_amount": "fail" if ref["missing_amount"] else "pass",
        "duplicate_order_id": "fail" if ref["duplicate_order_id"]["extra_rows"] else "pass",
        "invalid_region": "fail" if ref["invalid_region"] else "pass",
        "invalid_email": "fail" if ref["invalid_email"] else "pass",
        "negative_amount": "fail" if ref["negative_amount"] else "pass",
        "freshness": "pass" if fresh else "fail",
        "schema": "pass",
    }


def as_time(value) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def disagreements(report: dict, ref: dict, outcomes: dict) -> list[str]:
    """Where a run's observed values or outcomes differ from the reference, in the tool's own terms."""
    found = []
    observed = report.get("observed", {})
    for metric in spec.METRICS:
        value = observed.get(metric)
        wanted = ref[metric]
        if metric == "duplicate_order_id":
            wanted = wanted[report.get("duplicate_meaning", "extra_rows")]
        if metric == "freshness":
            newest = as_time(value)
            # Lodestar gives the age in hours to 3 decimals (3.6 s), turned back into a time here.
            if newest is None or abs((newest - wanted).total_seconds()) > 5:
                found.append(f"{metric}: {value} (reference {wanted.isoformat()})")
        elif value is None or float(value) != float(wanted):
            found.append(f"{metric}: {value} (reference {wanted})")
        if report.get("outcome", {}).get(metric) != outcomes[metric]:
            found.append(f"{metric} outcome {report.get('outcome', {}).get(metric)} (expected {outcomes[metric]})")
    return found


# --- Runs ------------------------------------------------------------------------------------


@dataclass
class Run:
    process_s: float
    cpu_s: float  # user + system time of the process (not the PostgreSQL server's)
    peak_rss_mib: float
    report: dict
    exit_status: int


@dataclass
class Cell:
    tool: str
    source: str
    runs: list[Run] = field(default_factory=list)
    unsupported: str = ""

    def median(self, key) -> float | None:
        values = [key(run) for run in self.runs if "check_s" in run.report]
        values = [value for value in values if value is not None]
        return statistics.median(values) if values else None


def command(tool: str, source: str) -> list[str]:
    python = str(venv_python(tool))
    if tool == "lodestar":
        return [python, str(HERE / "run_lodestar.py"), "run", "--source", source]
    if tool == "gx":
        return [python, str(HERE / "run_gx.py"), "--source", source, "--path", str(make_orders.PARQUET),
                "--url", make_orders.DATABASE_URL.replace("postgresql://", "postgresql+psycopg2://", 1)]  # fmt: skip
    server = make_orders.SERVER_URL.removeprefix("postgresql://")
    user, _, hostport = server.rpartition("@")
    host, _, port = hostport.partition(":")
    view = ["--parquet-view"] if tool == "soda_view" else []
    return [python, str(HERE / "run_soda.py"), "--source", source, "--path", str(make_orders.PARQUET),
            "--host", host, "--port", port or "5432", "--user", user or "postgres",
            "--database", make_orders.DATABASE, *view]  # fmt: skip


def environment(tool: str, lodestar_var: Path | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    if tool == "lodestar":
        env.update(LODESTAR_VAR_DIR=str(lodestar_var), LODESTAR_DATA_ROOT=str(make_orders.DATA), LODESTAR_DEMO="true")
    elif tool == "gx":
        env["GX_ANALYTICS_ENABLED"] = "false"
    else:
        env["SODA_CORE_TELEMETRY_ENABLED"] = "false"
    return env


def own_peak_rss_mib() -> float:
    """This process's peak RSS: Linux hands it on to each child at exec, so it is the floor of the children's."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_once(tool: str, source: str, template: Path | None, timeout: int) -> Run:
    """One process; its wall time and peak RSS (wait4), and the JSON it printed last."""
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as scratch:
        var = None
        if template is not None:
            var = Path(scratch) / "var"
            shutil.copytree(template, var)
        out_path, err_path = Path(scratch) / "stdout", Path(scratch) / "stderr"
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            started = time.perf_counter()
            process = subprocess.Popen(
                command(tool, source), stdout=out, stderr=err, env=environment(tool, var), cwd=scratch,
                start_new_session=True,
            )  # fmt: skip
            stopped = []

            def stop() -> None:
                stopped.append(True)
                os.killpg(process.pid, signal.SIGKILL)

            timer = threading.Timer(timeout, stop)
            timer.start()
            _, status, usage = os.wait4(process.pid, 0)
            elapsed = time.perf_counter() - started
            timer.cancel()
            process.returncode = os.waitstatus_to_exitcode(status)
        report = last_json(out_path.read_text(errors="replace"))
        if report is None:
            tail = [line for line in err_path.read_text(errors="replace").splitlines() if line.strip()][-3:]
            if stopped:
                report = {"failed": f"stopped after {timeout} s (--timeout)"}
            else:
                killed = " (SIGKILL: out of memory?)" if process.returncode == -9 else ""
                report = {"failed": f"exit {process.returncode}{killed}: {' | '.join(tail)[-400:]}"}
    # A runner that measured its checks' memory reset the kernel's peak, which lowers ru_maxrss: it kept the
    # peak from before the reset, and the process's peak is the larger.
    peak = max(usage.ru_maxrss / 1024, (report.get("memory") or {}).get("setup_peak_mib") or 0)
    return Run(elapsed, usage.ru_utime + usage.ru_stime, peak, report, process.returncode)


def last_json(text: str) -> dict | None:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


def prepare_lodestar(scratch: Path) -> Path:
    """A migrated SQLite database with the two outputs and their checks, copied for each run."""
    var = scratch / "template"
    subprocess.run(
        [sys.executable, str(HERE / "run_lodestar.py"), "prepare", "--pg-url", make_orders.DATABASE_URL],
        env=environment("lodestar", var), check=True, cwd=scratch,
    )  # fmt: skip
    return var


# --- Report ----------------------------------------------------------------------------------


def fmt_seconds(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def markdown(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def timing_table(cells: list[Cell]) -> str:
    rows = []
    for cell in cells:
        name = TOOL_NAMES[cell.tool]
        if cell.unsupported:
            rows.append([cell.source, name, f"not supported: {cell.unsupported}", "", "", "", "", "", "", ""])
            continue
        ok = [run for run in cell.runs if "check_s" in run.report]
        failed = [run.report.get("failed") or run.report.get("unsupported") for run in cell.runs if run not in ok]
        version = ok[0].report["version"] if ok else f"failed: {failed[0]}"
        rows.append([
            cell.source, name, f"{version}; {HOW[(cell.tool, cell.source)]}",
            fmt_seconds(cell.median(lambda run: run.report["check_s"])),
            fmt_seconds(cell.median(lambda run: run.report.get("check_cpu_s"))),
            fmt_seconds(cell.median(lambda run: run.process_s)),
            fmt_seconds(cell.median(lambda run: run.cpu_s)),
            f"{max(run.peak_rss_mib for run in cell.runs):,.0f}" if cell.runs else "",
            growth(ok),
            f"{len(ok)}/{len(cell.runs)}",
        ])  # fmt: skip
    headers = ["source", "tool", "version, how it reads", "checks s (median)", "checks CPU s (median)",
               "process s (median)",
               "process CPU s (median)", "peak RSS MiB (max)", "RSS before checks → peak during, MiB (max)",
               "runs ok"]  # fmt: skip
    return markdown(headers, rows)


# The issue's targets for the engine. 700 MB is 667.6 MiB. "Flat" on PostgreSQL: the hub process grows by less
# than FLAT_MIB while the checks run (the table is about 1 GiB in the server; the rows never come to the hub).
PEAK_RSS_LIMIT_MIB = 700e6 / 2**20
GX_FACTOR = 8
FLAT_MIB = 64


def targets(cells: list[Cell]) -> str:
    """Each target of the engine, met (✓) or not (✗), from the medians (and the largest peak RSS) above."""
    by = {(cell.tool, cell.source): cell for cell in cells}

    def checks_s(tool: str, source: str) -> float | None:
        cell = by.get((tool, source))
        return cell.median(lambda run: run.report["check_s"]) if cell else None

    ours = checks_s("lodestar", "parquet")
    lines = []
    if ours is not None:
        for tool in ("soda", "soda_view"):
            theirs = checks_s(tool, "parquet")
            if theirs is not None:
                mark = "✓" if ours < theirs else "✗"
                lines.append(f"{mark} faster than {TOOL_NAMES[tool]} on Parquet: {ours:.2f} s against {theirs:.2f} s")
        gx = checks_s("gx", "parquet")
        if gx is not None:
            mark = "✓" if gx >= GX_FACTOR * ours else "✗"
            lines.append(f"{mark} at least {GX_FACTOR}× faster than Great Expectations on Parquet: {gx / ours:.1f}× "
                         f"({ours:.2f} s against {gx:.2f} s)")  # fmt: skip
        peak = max(run.peak_rss_mib for run in by[("lodestar", "parquet")].runs)
        mark = "✓" if peak < PEAK_RSS_LIMIT_MIB else "✗"
        lines.append(f"{mark} peak RSS under 700 MB ({PEAK_RSS_LIMIT_MIB:.0f} MiB) on Parquet: {peak:,.0f} MiB")
    table = by.get(("lodestar", "postgres"))
    marked = [run.report["memory"] for run in table.runs if run.report.get("memory")] if table else []
    if marked:
        grown = max(memory["peak_mib"] - memory["before_mib"] for memory in marked)
        mark = "✓" if grown < FLAT_MIB else "✗"
        lines.append(f"{mark} hub process flat on PostgreSQL: it grew by {grown:,.0f} MiB at most while checking "
                     f"(flat: under {FLAT_MIB} MiB)")  # fmt: skip
    return "Targets (Lodestar engine):\n" + "\n".join(f"- {line}" for line in lines) if lines else ""


def growth(runs: list[Run]) -> str:
    """The process's RSS when the checks started and its peak while they ran, of the run that grew most."""
    marked = [run.report["memory"] for run in runs if run.report.get("memory")]
    if not marked:
        return ""
    worst = max(marked, key=lambda memory: memory["peak_mib"] - memory["before_mib"])
    return f"{worst['before_mib']:,.0f} → {worst['peak_mib']:,.0f} (+{worst['peak_mib'] - worst['before_mib']:,.0f})"


def values_table(cells: list[Cell], ref: dict, outcomes: dict) -> tuple[str, list[str]]:
    rows, problems = [], []
    dup = ref["duplicate_order_id"]
    rows.append([
        "", "reference (DuckDB on the file)", f"{ref['row_count']:,}", f"{ref['missing_amount']:,}",
        f"{dup['extra_rows']:,} extra rows / {dup['rows_in_repeated_groups']:,} rows in repeats",
        f"{ref['invalid_region']:,}", f"{ref['invalid_email']:,}", f"{ref['negative_amount']:,}",
        ref["freshness"].strftime("%Y-%m-%d %H:%M:%S"), "0", "",
    ])  # fmt: skip
    for cell in cells:
        ok = [run for run in cell.runs if "check_s" in run.report]
        if not ok:
            problems.append(f"{TOOL_NAMES[cell.tool]} on {cell.source}: no values (the runs failed or were not made)")
            continue
        report = ok[-1].report
        observed = report["observed"]
        issues = sorted({issue for run in ok for issue in disagreements(run.report, ref, outcomes)})
        problems += [f"{TOOL_NAMES[cell.tool]} on {cell.source}: {issue}" for issue in issues]
        newest = as_time(observed.get("freshness"))
        meaning = {"extra_rows": "extra rows", "repeated_values": "repeated ids",
                   "rows_in_repeated_groups": "rows in repeats"}[report["duplicate_meaning"]]  # fmt: skip
        rows.append([
            cell.source, TOOL_NAMES[cell.tool], count(observed.get("row_count")), count(observed.get("missing_amount")),
            f"{count(observed.get('duplicate_order_id'))} {meaning}", count(observed.get("invalid_region")),
            count(observed.get("invalid_email")), count(observed.get("negative_amount")),
            newest.strftime("%Y-%m-%d %H:%M:%S") if newest else observed.get("freshness"),
            count(observed.get("schema")),
            "yes" if not issues else f"**no** ({len(issues)})",
        ])  # fmt: skip
    headers = ["source", "tool", "rows", "missing amount", "duplicate order_id", "invalid region",
               "invalid email (regex)", "negative amount", "newest ordered_at (UTC)", "schema mismatches",
               "agrees"]  # fmt: skip
    return markdown(headers, rows), problems


def count(value) -> str:
    if value is None:
        return "–"
    return f"{float(value):,.0f}" if float(value).is_integer() else f"{float(value):,.3f}"


def engine_state() -> str:
    """The commit measured, and whether the engine's files differed from it in the work tree."""

    def git(*words: str) -> str:
        done = subprocess.run(["git", *words], cwd=REPO, capture_output=True, text=True)
        return done.stdout.rstrip()

    changed = git("status", "--porcelain", "--", "quality/engine.py", "quality/checks.py")
    return f"commit {git('rev-parse', '--short', 'HEAD').strip()}" + (
        " with uncommitted changes to " + ", ".join(line[3:] for line in changed.splitlines()) if changed else ""
    )


def main() -> None:
    args = parse_args()
    tools = [tool.strip() for tool in args.tools.split(",") if tool.strip()]
    sources = [source.strip() for source in args.sources.split(",") if source.strip()]
    unknown = sorted((set(tools) - set(TOOLS)) | (set(sources) - set(SOURCES)))
    if unknown:
        sys.exit(f"Unknown tool or source: {', '.join(unknown)}")
    install_errors = {tool: ensure_venv(tool) for tool in tools}
    made = data(args.rows, args.rebuild)
    manifest, ref = made["manifest"], made["reference"]
    outcomes = expected_outcomes(ref)
    parent_rss = own_peak_rss_mib()
    load_before = os.getloadavg()
    code = engine_state()
    cells = [
        Cell(tool, source, unsupported=install_errors[tool] or "")
        for source in sources
        for tool in tools
        if (tool, source) in HOW
    ]
    with tempfile.TemporaryDirectory(prefix="bench-quality-") as scratch:
        template = prepare_lodestar(Path(scratch)) if "lodestar" in tools else None
        # Round by round, every tool on every source in turn: a burst of load elsewhere on the
        # machine then falls on one run of several cells rather than on every run of one.
        for number in range(1, args.repeat + 1):
            for cell in cells:
                if cell.unsupported:
                    continue
                run = run_once(cell.tool, cell.source, template if cell.tool == "lodestar" else None, args.timeout)
                cell.runs.append(run)
                what = run.report.get("failed") or run.report.get("unsupported")
                took = f"checks {run.report['check_s']:.2f} s" if "check_s" in run.report else what
                log(f"  {cell.tool:8} {cell.source:8} run {number}: {took}; process {run.process_s:.2f} s, "
                    f"CPU {run.cpu_s:.2f} s, peak RSS {run.peak_rss_mib:,.0f} MiB")  # fmt: skip
                if "unsupported" in run.report:
                    cell.unsupported = run.report["unsupported"]
    load_after = os.getloadavg()
    values, problems = values_table(cells, ref, outcomes)
    header = (
        f"Taken on {dt.date.today().isoformat()} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, PostgreSQL {made['postgres']} on the same machine; "
        f"{manifest['rows']:,} rows (Parquet {make_orders.PARQUET.stat().st_size / 2**20:,.0f} MiB); "
        f"{args.repeat} run(s) per row; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after. "
        f"Every run inherits the peak RSS of the benchmark process that starts it ({parent_rss:,.0f} MiB): "
        "no figure can be lower. "
        f"Code: {code}."
    )
    recorded = [run.report["record_s"] for cell in cells for run in cell.runs if "record_s" in run.report]
    aggregate = {
        cell.source: statistics.median(run.report["aggregate_s"] for run in cell.runs if "aggregate_s" in run.report)
        for cell in cells
        if any("aggregate_s" in run.report for run in cell.runs)
    }
    stored = (
        "Lodestar: the one aggregate query takes (median) "
        + ", ".join(f"{seconds:.2f} s on {source}" for source, seconds in aggregate.items())
        + "; the rest of its checks time is the queries of their own (on the file: the GROUP BY that counts "
        "duplicate keys) and the failing-row samples of the checks that fail. "
        f"run_checks then stores the results (record_results, SQLite): median {statistics.median(recorded):.2f} s, "
        "in the process time but not in the checks time."
        if recorded
        else ""
    )
    report = "\n\n".join(
        [
            header,
            timing_table(cells) + ("\n\n" + stored if stored else ""),
            targets(cells),
            values,
            "Disagreements:\n" + "\n".join(f"- {problem}" for problem in problems)
            if problems
            else "Every tool's values agree with the reference.",
        ]
    )
    print(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.md").write_text(report + "\n")
    raw = {
        "header": header,
        "manifest": manifest,
        "reference": {**ref, "freshness": ref["freshness"].isoformat()},
        "cells": [
            {"tool": cell.tool, "source": cell.source, "unsupported": cell.unsupported,
             "runs": [vars(run) for run in cell.runs]}
            for cell in cells
        ],
    }  # fmt: skip
    (RESULTS / "latest.json").write_text(json.dumps(raw, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
