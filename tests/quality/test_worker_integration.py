"""Real Celery workers on the test database: a run end to end, and workers killed in the middle of a check.

Each worker is a ``celery worker`` subprocess (prefork pool, one process) on the broker CI uses —
Redis when CELERY_BROKER_URL says so, on a queue of its own — or else on a fresh folder of the
embedded filesystem broker. The slow check is real: custom SQL on a SQLite output that counts up
to the number in the output's one row, so a big number keeps the query busy until it is killed.
These tests run wherever there is a /proc to find the pool process; CI (CI=true) insists on it.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection
from kombu import Exchange, Queue

from hub.celery import app
from products import choices
from quality.models import CheckRun
from quality.tasks import run_output_checks
from tests import factories
from tests.quality.conftest import make_connection
from tests.quality.test_tasks import EXPECTED, SLOT, add_checks, statuses

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 25  # seconds for any one thing a worker must do
FINISHED = ["pass", "warn", "fail", "error"]
COUNT_SQL = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < (SELECT n FROM {table})) "
    "SELECT count(*) FROM c"
)
# ``celery -A hub worker``, told that a pool process is lost after 1 second rather than the 10 it
# waits by default for a result the dead process might still have sent.
START_WORKER = "import sys; from hub.celery import app; app.conf.worker_lost_wait = 1; app.worker_main(sys.argv[1:])"
FOREVER = 10**12  # counting this far takes hours: the query runs until its worker is killed

pytestmark = pytest.mark.django_db(transaction=True)  # the worker must see the rows: commit them


def needs_proc() -> None:
    if not Path("/proc/self/stat").exists():
        message = "No /proc: cannot find the worker's pool process to kill."
        if os.environ.get("CI") == "true":
            pytest.fail(message + " CI must run these tests.")
        pytest.skip(message)


def wait_for(found: Callable, what: str, worker: Worker | None = None):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        if worker is not None and worker.process.poll() is not None:
            break
        time.sleep(0.1)
    pytest.fail(f"Timed out waiting for {what}." + (f"\nWorker log:\n{worker.log()[-4000:]}" if worker else ""))


# --- The broker and the workers --------------------------------------------------------------------


def worker_database_url() -> str:
    """The test database as a URL the worker process can open."""
    name = connection.settings_dict["NAME"]
    if connection.vendor == "sqlite":
        if str(name).startswith(":memory:") or "mode=memory" in str(name):
            pytest.fail("The SQLite test database is in memory; hub.test_settings should give it a file.")
        return f"sqlite:///{name}"
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{name}"))


class Broker:
    """Redis from CELERY_BROKER_URL on a queue of its own, else a fresh folder of the filesystem broker."""

    def __init__(self, tmp_path: Path) -> None:
        url = os.environ.get("CELERY_BROKER_URL", "")
        if url and not url.startswith("filesystem"):
            self.url, self.options, self.queue = (
                url,
                {"visibility_timeout": 3600},
                f"checks-test-{uuid.uuid4().hex[:8]}",
            )
            return
        folder = tmp_path / "var" / "broker"
        for name in ("out", "processed", "control"):
            (folder / name).mkdir(parents=True, exist_ok=True)
        self.url, self.queue = "filesystem://", "checks"
        self.options = {"data_folder_in": str(folder / "out"), "data_folder_out": str(folder / "out"),
                        "processed_folder": str(folder / "processed"), "store_processed": False}  # fmt: skip

    def send(self, output_id: int, slot: str = SLOT) -> None:
        with app.connection_for_write(self.url, transport_options=self.options) as conn:
            kwargs = {"output_id": output_id, "scheduled_for_iso": slot}
            run_output_checks.apply_async(kwargs=kwargs, queue=self.queue, connection=conn)

    def remove_queue(self) -> None:
        """Leave nothing behind on a shared Redis: the queue and its binding (declared here, so kombu knows it)."""
        if self.url != "filesystem://":
            with app.connection_for_write(self.url, transport_options=self.options) as conn:
                queue = Queue(self.queue, Exchange(self.queue), routing_key=self.queue)(conn.default_channel)
                queue.declare()
                queue.delete()


@pytest.fixture
def broker(tmp_path):
    broker = Broker(tmp_path)
    yield broker
    broker.remove_queue()


class Worker:
    """``celery -A hub worker`` in a process group of its own, on the test database and ``broker``."""

    def __init__(self, broker: Broker, tmp_path: Path, data_root: Path, **env: str) -> None:
        self.log_path = tmp_path / f"worker-{uuid.uuid4().hex[:6]}.log"
        queues = "checks,celery" if broker.queue == "checks" else broker.queue
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "hub.test_settings",
            "DATABASE_URL": worker_database_url(),
            "CELERY_BROKER_URL": broker.url,
            "LODESTAR_VAR_DIR": str(tmp_path / "var"),
            "LODESTAR_DATA_ROOT": str(data_root),
            "LODESTAR_ENCRYPTION_KEYS": ",".join(settings.LODESTAR_ENCRYPTION_KEYS),
            **env,
        }
        with self.log_path.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", START_WORKER, "worker", "-Q", queues, "--pool=prefork",
                 "--concurrency=1", "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def log(self) -> str:
        return self.log_path.read_text()

    def pool_process(self) -> int:
        """The pid of the one live pool process, the one running the task."""
        pids = [pid for pid, ppid, state in processes() if ppid == self.process.pid and state != "Z"]
        assert len(pids) == 1, f"Expected one pool process under {self.process.pid}, found {pids}"
        return pids[0]

    def kill_pool_process(self) -> None:
        os.kill(self.pool_process(), signal.SIGKILL)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # warm shutdown: unacknowledged messages go back
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def processes() -> list[tuple[int, int, str]]:
    """(pid, parent pid, state) of every process, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, ppid = stat.read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        found.append((int(stat.parent.name), int(ppid), state))
    return found


# --- The slow check --------------------------------------------------------------------------------


def write_counter(data_root: Path, n: int) -> None:
    """The SQLite output's one row, written to a new file moved into place: a query on the old file is undisturbed."""
    path, new = data_root / "counter.db", data_root / "counter.db.new"
    new.unlink(missing_ok=True)
    db = sqlite3.connect(new)
    with db:
        db.execute("CREATE TABLE knob (n INTEGER)")
        db.execute("INSERT INTO knob VALUES (?)", (n,))
    db.close()
    os.replace(new, path)


@pytest.fixture
def counting_check(product, data_root):
    """A custom SQL check that counts up to the output's number: for ever, until the number is changed."""
    write_counter(data_root, FOREVER)
    output = factories.OutputFactory(
        product=product, name="counter", kind=choices.OutputKind.TABLE, format="table", path="",
        connection=make_connection("counter", "sqlite:///counter.db"), table="knob",
    )  # fmt: skip
    return factories.CheckFactory(
        output=output, name="count", check_type="custom_sql", params={"sql": COUNT_SQL}, operator="gte", threshold=1
    )


def runs_of(check) -> list[CheckRun]:
    return list(CheckRun.objects.filter(quality_check=check))


def running(check, attempts: int) -> CheckRun | None:
    return CheckRun.objects.filter(quality_check=check, status="running", attempts=attempts).first()


def finished(check) -> CheckRun | None:
    return CheckRun.objects.filter(quality_check=check, status__in=FINISHED).first()


# --- The tests -------------------------------------------------------------------------------------


def test_a_real_worker_runs_the_checks_of_a_slot(known_output, broker, tmp_path, data_root):
    add_checks(known_output)
    with Worker(broker, tmp_path, data_root) as worker:
        broker.send(known_output.pk)
        wait_for(lambda: CheckRun.objects.filter(status__in=FINISHED).count() == 3, "three finished runs", worker)
    assert statuses(known_output) == EXPECTED


def test_a_worker_killed_mid_check_leaves_exactly_one_result_for_the_slot(counting_check, broker, tmp_path, data_root):
    needs_proc()
    with Worker(broker, tmp_path, data_root) as worker:
        broker.send(counting_check.output_id)
        wait_for(lambda: running(counting_check, attempts=1), "the first delivery to run the check", worker)
        time.sleep(0.5)  # well into the query
        write_counter(data_root, 5)  # the next delivery counts to 5 and is done
        worker.kill_pool_process()
        # The worker's main process sees its pool process lost and puts the message back; a new
        # pool process takes it, takes the run over and finishes it.
        run = wait_for(lambda: finished(counting_check), "the redelivery to finish the run", worker)
        assert "WorkerLostError" in worker.log()
    assert runs_of(counting_check) == [run]
    assert (run.status, run.observed_value, run.attempts) == ("pass", 5.0, 2)

    # A worker started again and handed the slot once more records nothing new.
    with Worker(broker, tmp_path, data_root) as again:
        broker.send(counting_check.output_id)
        wait_for(lambda: "succeeded" in again.log(), "the second worker to run the task", again)
    assert runs_of(counting_check) == [run]
    assert CheckRun.objects.values_list("status", "attempts", "finished").get() == ("pass", 2, run.finished)


def test_a_check_that_keeps_killing_its_worker_is_recorded_as_an_error(counting_check, broker, tmp_path, data_root):
    needs_proc()
    with Worker(broker, tmp_path, data_root, LODESTAR_CHECK_MAX_DELIVERIES="2") as worker:
        broker.send(counting_check.output_id)
        for attempt in (1, 2):
            wait_for(lambda attempt=attempt: running(counting_check, attempt), f"delivery {attempt} to run", worker)
            time.sleep(0.3)
            worker.kill_pool_process()  # as an out-of-memory killer would, every time
        run = wait_for(lambda: finished(counting_check), "the third delivery to give up", worker)
    assert runs_of(counting_check) == [run]
    assert (run.status, run.attempts, run.observed_value) == ("error", 3, None)
    assert run.error == (
        "The check was interrupted 2 times (its worker died or was killed); it is not tried again for this slot."
    )


def test_a_real_worker_computes_a_kpi_series(product, broker, tmp_path, data_root, settings, request):
    from quality.kpi_tasks import compute_kpis
    from quality.models import KPIPoint, KPIRun
    from tests.quality.kpi_data import make_kpi, write_output

    settings.LODESTAR_KPI_TIME_ZONE = "UTC"  # as the worker's, which reads the environment's default
    kpi = make_kpi(write_output("parquet", product, data_root, request), grain="month")
    with Worker(broker, tmp_path, data_root) as worker:
        with app.connection_for_write(broker.url, transport_options=broker.options) as conn:
            compute_kpis.apply_async(kwargs={"kpi_ids": [kpi.pk]}, queue=broker.queue, connection=conn)
        run = wait_for(lambda: KPIRun.objects.filter(kpi=kpi, status="ok").first(), "the KPI's run", worker)
    assert run.points == KPIPoint.objects.filter(kpi=kpi).count() > 0
    # In UTC the eight events fall in January (u1, u2, u3), February (u4) and March (u1).
    months = dict(KPIPoint.objects.filter(kpi=kpi, grain="month", dimension="").values_list("period_start", "value"))
    assert list(months.values()) == [3, 1, 1]
