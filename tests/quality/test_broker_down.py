"""With the broker stopped, pages and the API keep serving, and the checks run once it is back.

* A real but stopped broker: the Celery app pointed at Redis on a free port where nothing listens.
  Pages and lists answer; run now (page and API) records its pending runs and answers at once, the
  broker's error logged; an alert is written and stays pending.
* The sweeper, ``requeue_stale_runs``, with the messages captured: what it sends again and what not.
* End to end: a real worker on a Redis server of the test's own, stopped while a steward asks for a
  run and started again; the sweeper sends the run and the worker finishes it, once. It needs the
  ``redis-server`` binary: skipped without it, except in CI (CI=true), which must run it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from celery.schedules import crontab
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.schedulers import ModelEntry
from kombu import pools
from kombu.utils.collections import eqhash

from hub.celery import app
from quality import alerts, tasks
from quality.alerts import deliver_notification, notify
from quality.choices import DeliveryStatus, RunStatus
from quality.models import CheckRun, Notification
from quality.tasks import requeue_stale_runs, run_output_checks
from tests import factories
from tests.quality.test_tasks import EXPECTED, add_checks, statuses
from tests.quality.test_worker_integration import FINISHED, Broker, Worker, wait_for

GUARD_SECONDS = 10  # a request must not hang on the broker: it answers well within this
SLOT = datetime(2026, 3, 29, 1, tzinfo=UTC)
LATER = SLOT + timedelta(hours=1)


# --- A broker of the test's choosing --------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def close_connections() -> None:
    """Close the connections to the broker set now, and drop the app's pools: the next message connects anew.

    kombu keeps one pool per broker for the whole process; the one of the broker set now is removed.
    """
    key = eqhash(app.connection_for_write())
    for group in (pools.producers, pools.connections):
        pool = group.pop(key, None)  # keyed by eqhash (an EqualityDict)
        if pool is not None:
            pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def broker_at(url: str):
    """The web side (this process) sends its messages to ``url`` for the duration.

    Celery reads the broker from the CELERY_BROKER_URL environment variable before its settings
    (CI sets it), so both change.
    """
    saved = os.environ.get("CELERY_BROKER_URL"), app.conf.broker_url, app.conf.broker_transport_options
    app._pool = app.amqp._producer_pool = None  # the usual broker's pools stay, for after
    os.environ["CELERY_BROKER_URL"] = url
    app.conf.broker_url, app.conf.broker_transport_options = url, {"visibility_timeout": 3600}
    try:
        target, sends_to = urlsplit(url), app.connection_for_write()
        assert (sends_to.hostname, sends_to.port) == (target.hostname, target.port)  # the override holds
        yield url
    finally:
        close_connections()
        environ, app.conf.broker_url, app.conf.broker_transport_options = saved
        if environ is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = environ


@pytest.fixture
def stopped_broker():
    """Redis on a port where nothing listens: every message is refused."""
    with broker_at(f"redis://127.0.0.1:{free_port()}/0") as url:
        yield url


def broker_errors(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.getMessage().startswith("Could not queue")]


@contextmanager
def timed():
    """``with timed() as elapsed:`` … ``elapsed()`` is the seconds the block took."""
    start, end = time.monotonic(), None

    def elapsed() -> float:
        return (end or time.monotonic()) - start

    try:
        yield elapsed
    finally:
        end = time.monotonic()


@pytest.fixture
def orders(product):
    """An output with two enabled checks and a disabled one."""
    output = factories.OutputFactory(product=product, name="orders")
    factories.CheckFactory(output=output, name="rows")
    factories.CheckFactory(output=output, name="more rows")
    factories.CheckFactory(output=output, name="off", enabled=False)
    return output


# --- Pages and the API with the broker stopped -------------------------------------------------


@pytest.mark.django_db
def test_pages_and_lists_answer_with_the_broker_stopped(client, api, bob, orders, stopped_broker):
    client.force_login(bob)
    for url in [orders.product.get_absolute_url(), reverse("health"), "/"]:
        assert client.get(url).status_code == 200, url
    for url in ["/api/v1/products/", "/api/v1/checks/", "/api/v1/check-runs/", "/api/v1/incidents/"]:
        assert api(bob).get(url).status_code == 200, url


@pytest.mark.django_db(transaction=True)  # the messages are sent after a real commit
def test_run_now_on_the_page_records_the_runs_and_says_they_are_queued(client, bob, orders, stopped_broker, caplog):
    client.force_login(bob)
    with timed() as elapsed:
        response = client.post(reverse("quality:run-now", args=[orders.product.slug, orders.pk]))
    assert elapsed() < GUARD_SECONDS
    assert response.status_code == 302
    assert sorted(CheckRun.objects.values_list("quality_check__name", "status")) == [
        ("more rows", "pending"),
        ("rows", "pending"),
    ]
    assert "Queued 2 checks of orders." in client.get(response["Location"]).content.decode()
    [error] = broker_errors(caplog)  # tried, refused, logged
    assert f"the run of output {orders.pk}'s checks" in error and "stays pending" in error


@pytest.mark.django_db(transaction=True)
def test_run_now_in_the_api_answers_with_the_pending_run(api, bob, orders, stopped_broker, caplog):
    check = orders.checks.get(name="rows")
    with timed() as elapsed:
        response = api(bob).post(f"/api/v1/checks/{check.pk}/run/")
    assert elapsed() < GUARD_SECONDS
    assert response.status_code == 202, response.json()
    [answer] = response.json()
    assert (answer["check"], answer["status"]) == (check.pk, "pending")
    assert CheckRun.objects.get().pk == answer["id"]
    assert len(broker_errors(caplog)) == 1


@pytest.mark.django_db(transaction=True)
def test_an_alert_is_written_and_stays_pending(product, stopped_broker, caplog):
    with timed() as elapsed, transaction.atomic():
        notify(product, "incident_opened", "Incident opened: rows", "Check failed: rows", {})
    assert elapsed() < GUARD_SECONDS
    assert sorted(Notification.objects.values_list("recipient", "status", "attempts")) == [
        ("alice@example.com", "pending", 0),
        ("bob@example.com", "pending", 0),
    ]
    assert len(broker_errors(caplog)) == 2


@pytest.mark.django_db
def test_the_sweeper_with_the_broker_still_stopped_changes_nothing_and_stops_at_the_first_refusal(
    orders, stopped_broker, caplog
):
    rows, more = orders.checks.filter(enabled=True).order_by("pk")
    for check, slot in [(rows, SLOT), (more, LATER)]:
        CheckRun.objects.create(quality_check=check, scheduled_for=slot)
    age_runs(minutes=10)
    before = list(CheckRun.objects.values())
    with timed() as elapsed:
        assert requeue_stale_runs() == {"messages": 0, "runs": 0, "notifications": 0}
    assert elapsed() < GUARD_SECONDS
    assert list(CheckRun.objects.values()) == before
    assert len(broker_errors(caplog)) == 1


# --- The sweeper ------------------------------------------------------------------------------


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, dict]]:
    """The messages sent, as (task name, apply_async's arguments), instead of sending them."""
    messages = []
    for task in (run_output_checks, deliver_notification):
        monkeypatch.setattr(task, "apply_async", lambda task=task, **options: messages.append((task.name, options)))
    return messages


def age_runs(minutes: float, **filters) -> None:
    CheckRun.objects.filter(**filters).update(created=timezone.now() - timedelta(minutes=minutes))


def run_messages(sent) -> list[tuple[int, str, list[int]]]:
    found = []
    for name, options in sent:
        assert name == run_output_checks.name
        assert (options["queue"], options["retry"], options["retry_policy"]) == (
            "checks",
            True,
            tasks.PUBLISH_RETRY_POLICY,
        )
        kwargs = options["kwargs"]
        assert set(kwargs) == {"output_id", "scheduled_for_iso", "check_ids"}
        found.append((kwargs["output_id"], kwargs["scheduled_for_iso"], kwargs["check_ids"]))
    return sorted(found)


@pytest.mark.django_db
def test_stale_pending_runs_are_sent_again_one_message_per_output_and_slot(product, orders, sent):
    rows, more = orders.checks.filter(enabled=True).order_by("pk")
    off = orders.checks.get(enabled=False)
    other = factories.CheckFactory(output=factories.OutputFactory(product=product, name="other"))
    for check in (rows, more, off, other):
        CheckRun.objects.create(quality_check=check, scheduled_for=SLOT)
    CheckRun.objects.create(quality_check=rows, scheduled_for=LATER)
    age_runs(minutes=3)
    fresh = CheckRun.objects.create(
        quality_check=more, scheduled_for=LATER
    )  # just queued: its message may be on its way
    age_runs(minutes=1, pk=fresh.pk)
    done = CheckRun.objects.create(
        quality_check=other, scheduled_for=LATER, status=RunStatus.PASS, started=SLOT, finished=SLOT
    )
    age_runs(minutes=30, pk=done.pk)
    before = list(CheckRun.objects.values())

    assert requeue_stale_runs() == {"messages": 3, "runs": 4, "notifications": 0}
    assert run_messages(sent) == sorted(
        [
            (orders.pk, SLOT.isoformat(), [rows.pk, more.pk]),  # not the disabled check's
            (orders.pk, LATER.isoformat(), [rows.pk]),  # not the fresh run of "more rows"
            (other.output_id, SLOT.isoformat(), [other.pk]),  # not its finished run
        ]
    )
    assert list(CheckRun.objects.values()) == before  # messages only: no row is touched


@pytest.mark.django_db
def test_a_run_held_far_beyond_the_hard_time_limit_is_sent_again_and_one_running_now_is_not(orders, sent):
    rows, more = orders.checks.filter(enabled=True).order_by("pk")
    long_ago = timezone.now() - timedelta(seconds=tasks.STUCK_RUNNING_SECONDS + 60)
    recently = timezone.now() - timedelta(seconds=tasks.HARD_TIME_LIMIT + 60)  # past the limit, not the broker's
    CheckRun.objects.create(quality_check=rows, scheduled_for=SLOT, status=RunStatus.RUNNING, started=long_ago)
    CheckRun.objects.create(quality_check=more, scheduled_for=SLOT, status=RunStatus.RUNNING, started=recently)
    age_runs(minutes=24 * 60)

    assert requeue_stale_runs()["runs"] == 1
    assert run_messages(sent) == [(orders.pk, SLOT.isoformat(), [rows.pk])]
    assert sorted(CheckRun.objects.values_list("status", "attempts")) == [("running", 0), ("running", 0)]


@pytest.mark.django_db
def test_a_run_sent_again_gets_exactly_one_result_however_often_it_arrives(known_output, bob, sent):
    from quality.runs import run_now

    add_checks(known_output)
    with transaction.atomic():
        run_now(bob, known_output)  # its message lost: the broker was down (no on-commit here)
    age_runs(minutes=5)
    requeue_stale_runs()
    requeue_stale_runs()  # the next sweep, before a worker took the first message
    [first, second] = [options["kwargs"] for _name, options in sent]
    assert first == second

    assert run_output_checks.apply(kwargs=first).get() == {"pass": 1, "fail": 1, "warn": 1}
    finished = list(CheckRun.objects.values_list("pk", "status", "attempts", "finished"))
    assert run_output_checks.apply(kwargs=second).get() == {}
    assert statuses(known_output) == EXPECTED
    assert list(CheckRun.objects.values_list("pk", "status", "attempts", "finished")) == finished
    sent.clear()
    assert requeue_stale_runs() == {"messages": 0, "runs": 0, "notifications": 0}  # nothing left to send
    assert sent == []


def notification(product, minutes_ago: float, **fields) -> Notification:
    made = Notification.objects.create(
        product=product, event="incident_opened", channel="email", recipient="alice@example.com",
        subject="Incident opened", **fields,
    )  # fmt: skip
    Notification.objects.filter(pk=made.pk).update(created=timezone.now() - timedelta(minutes=minutes_ago))
    return made


@pytest.mark.django_db
def test_notifications_whose_message_was_lost_are_queued_again(product, sent):
    stale = alerts.REQUEUE_AFTER.total_seconds() / 60 + 1
    lost = notification(product, stale)  # its message lost: the broker was down
    notification(product, 1)  # just written: its message may be on its way
    # Attempted: a delivery in progress or retried later by its own task, or done. Never sent again.
    notification(product, stale, attempts=1, last_error="HTTP 503")
    notification(product, stale, attempts=1, status=DeliveryStatus.SENT)
    notification(product, stale, attempts=6, status=DeliveryStatus.FAILED)
    now = timezone.now()
    notification(product, 60, attempts=2, last_attempt_at=now - timedelta(minutes=1))  # its retry is due soon
    # Waiting for a retry far longer than any backoff: the retry's message was lost.
    retry_lost = notification(product, 60, attempts=2, last_attempt_at=now - alerts.RETRY_LOST_AFTER - timedelta(1))
    before = list(Notification.objects.values())

    assert requeue_stale_runs() == {"messages": 0, "runs": 0, "notifications": 2}
    options = {"queue": "celery", "retry": True, "retry_policy": tasks.PUBLISH_RETRY_POLICY}
    assert sent == [
        (deliver_notification.name, {"args": (lost.pk,), **options}),
        (deliver_notification.name, {"args": (retry_lost.pk,), **options}),
    ]
    assert list(Notification.objects.values()) == before


@pytest.mark.django_db
def test_the_beat_sends_the_sweeper_every_minute_on_the_celery_queue():
    # As the beat's database scheduler stores the entry from the settings, and sends it.
    entry = ModelEntry.from_entry("requeue-stale-runs", app=app, **app.conf.beat_schedule["requeue-stale-runs"])
    assert entry.task == requeue_stale_runs.name
    assert entry.schedule == crontab(minute="*")
    assert entry.options["queue"] == "celery"  # not behind long check runs
    assert entry.options["expires"] == 60  # a sweep no worker took within the minute is dropped


# --- End to end: a real worker, a Redis server stopped and started again --------------------------


class RedisServer:
    """``redis-server`` on ``port``, in memory only, started and stopped by the test."""

    def __init__(self, binary: str, port: int, folder: Path) -> None:
        self.binary, self.port, self.folder = binary, port, folder
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = (self.folder / "redis.log").open("a")
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--dir", str(self.folder)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        wait_for(self.answers, f"redis-server on port {self.port}")

    def answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            pytest.fail(f"redis-server exited:\n{(self.folder / 'redis.log').read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@pytest.fixture
def redis_server(tmp_path):
    binary = shutil.which("redis-server")
    if binary is None:
        message = "No redis-server binary: cannot stop and start a broker."
        if os.environ.get("CI") == "true":
            pytest.fail(message + " CI must run this test.")
        pytest.skip(message)
    folder = tmp_path / "redis"
    folder.mkdir()
    server = RedisServer(binary, free_port(), folder)
    server.start()
    yield server
    server.stop()


class OwnRedis(Broker):
    """The test's own Redis server: nothing else uses it, so the worker takes the real queues."""

    def __init__(self, url: str) -> None:
        self.url, self.options, self.queue = url, {"visibility_timeout": 3600}, "checks"


@pytest.mark.django_db(transaction=True)  # the worker must see the rows: commit them
def test_a_run_asked_for_while_the_broker_is_down_runs_once_it_is_back(
    client, bob, known_output, redis_server, tmp_path, data_root, caplog
):
    add_checks(known_output)
    client.force_login(bob)
    with broker_at(redis_server.url), Worker(OwnRedis(redis_server.url), tmp_path, data_root) as worker:
        wait_for(lambda: "ready." in worker.log(), "the worker to start", worker)
        redis_server.stop()

        with timed() as elapsed:
            response = client.post(reverse("quality:run-now", args=[known_output.product.slug, known_output.pk]))
        assert elapsed() < GUARD_SECONDS
        assert response.status_code == 302
        assert len(broker_errors(caplog)) == 1
        assert set(CheckRun.objects.values_list("status", flat=True)) == {"pending"}

        redis_server.start()
        assert requeue_stale_runs(pending_after=0) == {"messages": 1, "runs": 3, "notifications": 0}
        wait_for(lambda: CheckRun.objects.filter(status__in=FINISHED).count() == 3, "three finished runs", worker)
        log = worker.log()
    assert "Connection to broker lost" in log  # the worker saw the broker go, and came back to it
    assert log.count("Task quality.tasks.run_output_checks[") == 2, log  # one message: received, succeeded
    assert statuses(known_output) == EXPECTED
    assert list(CheckRun.objects.values_list("attempts", flat=True)) == [1, 1, 1]
