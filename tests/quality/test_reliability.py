"""Exactly one result per check and slot, however the task travels; and one beat at a time.

A delivery that died is played here the way it leaves the database: it took the run (``take``)
and never finished it. Real workers being killed are in test_worker_integration.py.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from celery import Celery
from django.db import connection
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from quality import outcomes
from quality.beat import LeasedScheduler
from quality.engine import Result, record_results
from quality.models import BeatLease, CheckRun
from quality.tasks import run_output_checks
from tests import factories

SLOT = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
SLOT_ISO = SLOT.isoformat()


@pytest.fixture
def after_runs(monkeypatch) -> list[int]:
    """The pks of the runs ``outcomes.after_run`` was called for, in order (it still runs)."""
    seen = []
    real = outcomes.after_run

    def spy(run) -> None:
        seen.append(run.pk)
        real(run)

    monkeypatch.setattr(outcomes, "after_run", spy)
    return seen


@pytest.fixture
def rows(known_output):
    return factories.CheckFactory(output=known_output, name="rows", check_type="row_count")  # 6 rows > 0: pass


def a_delivery_that_died(check) -> CheckRun:
    """What a worker killed mid-check leaves behind: the run taken, never finished."""
    run = CheckRun.take(check, SLOT)
    assert run is not None and run.status == "running"
    return run


# --- Redelivery, takeover, the cap --------------------------------------------------------------


@pytest.mark.django_db
def test_a_redelivered_task_for_a_finished_slot_records_nothing_new(rows, after_runs):
    assert run_output_checks.run(rows.output_id, SLOT_ISO) == {"pass": 1}
    before = CheckRun.objects.values().get()

    assert run_output_checks.apply(args=(rows.output_id, SLOT_ISO)).get() == {}
    assert CheckRun.objects.values().get() == before  # same attempts, same finished time
    assert after_runs == [before["id"]]


@pytest.mark.django_db
def test_a_delivery_takes_over_a_run_whose_delivery_died(rows, after_runs):
    dead = a_delivery_that_died(rows)
    assert run_output_checks.run(rows.output_id, SLOT_ISO) == {"pass": 1}
    run = CheckRun.objects.get()
    assert (run.pk, run.status, run.attempts, run.observed_value) == (dead.pk, "pass", 2, 6.0)
    assert after_runs == [run.pk]


@pytest.mark.django_db
def test_of_two_deliveries_reading_the_same_run_only_one_claims_it(rows):
    run = CheckRun.objects.create(quality_check=rows, scheduled_for=SLOT)
    first, second = CheckRun.objects.get(pk=run.pk), CheckRun.objects.get(pk=run.pk)
    assert first.claim() is True
    assert second.claim() is False  # it read attempts=0: the compare-and-swap misses
    assert CheckRun.objects.get(pk=run.pk).attempts == 1


@pytest.mark.django_db(transaction=True)
def test_of_many_deliveries_claiming_the_run_they_read_at_once_exactly_one_wins(rows):
    CheckRun.objects.create(quality_check=rows, scheduled_for=SLOT)
    barrier, won, failed = threading.Barrier(6), [], []

    def deliver() -> None:
        try:
            run = CheckRun.objects.get(quality_check=rows, scheduled_for=SLOT)
            barrier.wait()  # all have read the pending run; now all claim it
            if run.claim():
                won.append(run.attempts)
        except Exception as exc:  # reported below: a thread's exception would vanish
            failed.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed == []
    assert won == [1]
    assert CheckRun.objects.values_list("status", "attempts").get() == ("running", 1)


@pytest.mark.django_db
def test_a_stale_delivery_cannot_finish_a_run_taken_over(rows, after_runs):
    stale = a_delivery_that_died(rows)
    current = CheckRun.take(rows, SLOT)  # the redelivery: attempts 1 → 2

    assert stale.finish(Result(rows, "fail", 0.0)) is False
    run = CheckRun.objects.get()
    assert (run.status, run.attempts, run.finished) == ("running", 2, None)
    assert after_runs == []

    assert current.finish(Result(rows, "pass", 6.0)) is True
    assert stale.finish(Result(rows, "fail", 0.0)) is False  # late as well as stale
    assert CheckRun.objects.get().status == "pass"
    assert after_runs == [run.pk]


@pytest.mark.django_db
def test_after_too_many_interrupted_deliveries_the_slot_is_an_error_without_running(rows, settings, after_runs):
    settings.LODESTAR_CHECK_MAX_DELIVERIES = 3
    for _ in range(3):
        a_delivery_that_died(rows)

    assert run_output_checks.run(rows.output_id, SLOT_ISO) == {"error": 1}
    run = CheckRun.objects.get()
    assert (run.status, run.attempts, run.observed_value, run.duration_ms) == ("error", 4, None, None)
    assert run.error == (
        "The check was interrupted 3 times (its worker died or was killed); it is not tried again for this slot."
    )
    assert after_runs == [run.pk]
    # Delivered yet again: the slot is finished.
    assert run_output_checks.run(rows.output_id, SLOT_ISO) == {}
    assert after_runs == [run.pk]


@pytest.mark.django_db
def test_the_cap_applies_to_results_recorded_in_place_too(rows, settings):
    settings.LODESTAR_CHECK_MAX_DELIVERIES = 1
    a_delivery_that_died(rows)
    [run] = record_results([Result(rows, "pass", 6.0)], scheduled_for=SLOT)
    assert (run.status, run.attempts) == ("error", 2)
    assert "interrupted 1 times" in run.error


@pytest.mark.django_db
def test_a_released_run_goes_back_to_pending_for_the_retry(rows, after_runs):
    run = a_delivery_that_died(rows)
    assert run.release() is True
    assert run.finish(Result(rows, "pass", 6.0)) is False  # given back: no longer its to finish
    assert CheckRun.objects.values_list("status", "attempts").get() == ("pending", 0)

    retry = CheckRun.take(rows, SLOT)
    assert retry.attempts == 1 and retry.finish(Result(rows, "pass", 6.0)) is True
    assert after_runs == [run.pk]


@pytest.mark.django_db
def test_retries_for_an_unreachable_source_do_not_count_as_interruptions(product, settings):
    settings.LODESTAR_CHECK_MAX_DELIVERIES = 1  # a retry counted as an interruption would hit the cap
    output = factories.OutputFactory(product=product, name="gone", format="parquet", path="gone/nothing.parquet")
    factories.CheckFactory(output=output, name="rows", check_type="row_count")
    # apply() runs the three retries in place; each releases its claim before retrying.
    assert run_output_checks.apply(args=(output.pk, SLOT_ISO)).get() == {"error": 1}
    run = CheckRun.objects.get()
    assert (run.status, run.attempts) == ("error", 1)
    assert "does not exist" in run.error


# --- One beat at a time ---------------------------------------------------------------------------


def beat(tmp_path, name: str, lease_seconds: float = 30) -> LeasedScheduler:
    """A leased scheduler on this database, sending to a broker folder of its own (so we see who sent)."""
    folder = tmp_path / name
    folder.mkdir()
    app = Celery(f"beat-{name}", set_as_current=False)
    app.conf.update(
        # The write URL: Celery lets a CELERY_BROKER_URL in the environment (CI's Redis) beat broker_url.
        broker_write_url="filesystem://",
        broker_transport_options={
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "control_folder": str(folder / "control"),  # kombu's default is ./control
        },
        timezone="UTC",
        result_expires=None,  # no celery.backend_cleanup entry
        beat_sync_every=1,
    )
    return LeasedScheduler(app=app, lease_seconds=lease_seconds)


def sent(tmp_path, name: str) -> int:
    return len(list((tmp_path / name).glob("*.msg")))  # the filesystem broker: one file a message


@pytest.fixture
def every_second():
    """A periodic task due now and every second after."""
    interval = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.SECONDS)
    return PeriodicTask.objects.create(
        name="ping every second",
        task="quality.tasks.run_output_checks",
        kwargs='{"output_id": 0}',
        interval=interval,
        last_run_at=datetime.now(UTC) - timedelta(days=1),
    )


@pytest.mark.django_db(transaction=True)
def test_only_the_beat_holding_the_lease_sends_and_another_takes_over_when_it_runs_out(tmp_path, every_second):
    first, second = beat(tmp_path, "first", lease_seconds=1), beat(tmp_path, "second", lease_seconds=1)
    try:
        first.tick()
        second.tick()
        assert (sent(tmp_path, "first"), sent(tmp_path, "second")) == (1, 0)
        assert (first.leading, second.leading) == (True, False)
        assert BeatLease.objects.get().holder == first.holder

        time.sleep(1.2)  # the first beat stops ticking (hung, or killed): its lease runs out
        second.tick()
        first.tick()
        assert (sent(tmp_path, "first"), sent(tmp_path, "second")) == (1, 1)
        assert (first.leading, second.leading) == (False, True)
        assert BeatLease.objects.get().holder == second.holder
    finally:
        first.close()
        second.close()


@pytest.mark.django_db(transaction=True)
def test_a_beat_shutting_down_hands_the_lease_over_at_once(tmp_path, every_second):
    first, second = beat(tmp_path, "first"), beat(tmp_path, "second")
    try:
        first.tick()
        second.tick()
        assert (first.leading, second.leading) == (True, False)
        first.close()
        time.sleep(1.1)  # the task is due again; the 30-second lease would still run
        second.tick()
        assert (sent(tmp_path, "first"), sent(tmp_path, "second")) == (1, 1)
        assert second.leading
    finally:
        second.close()
