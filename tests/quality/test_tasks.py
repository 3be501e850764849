"""The Celery task: one CheckRun per check and slot, however often it is delivered.

Real workers are in test_worker_integration.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kombu.exceptions import OperationalError

from quality import tasks
from quality.models import CheckRun, cron_schedule
from quality.tasks import enqueue_output_checks, previous_tick, run_output_checks
from tests import factories

SLOT = "2026-03-29T01:00:00+00:00"  # the night Europe moves its clocks: UTC inside, nothing special


def add_checks(output) -> None:
    factories.CheckFactory(output=output, name="rows", check_type="row_count")  # 6 > 0: pass
    factories.CheckFactory(output=output, name="ids", check_type="missing_count", column="id")  # 1 missing: fail
    factories.CheckFactory(output=output, name="emails", check_type="missing_count", column="email", severity="warn")
    factories.CheckFactory(output=output, name="off", check_type="row_count", enabled=False)


def statuses(output) -> dict[str, str]:
    return dict(CheckRun.objects.filter(quality_check__output=output).values_list("quality_check__name", "status"))


EXPECTED = {"rows": "pass", "ids": "fail", "emails": "warn"}


@pytest.mark.django_db
def test_the_task_records_one_run_per_check_for_a_slot_even_when_delivered_twice(known_output):
    add_checks(known_output)
    assert run_output_checks.run(known_output.pk, SLOT) == {"pass": 1, "fail": 1, "warn": 1}
    first = {run.pk: run.finished for run in CheckRun.objects.all()}

    assert run_output_checks.apply(args=(known_output.pk, SLOT)).get() == {}  # the redelivery finds the slot done
    assert statuses(known_output) == EXPECTED
    assert {run.pk: run.finished for run in CheckRun.objects.all()} == first
    assert set(CheckRun.objects.values_list("scheduled_for", flat=True)) == {datetime(2026, 3, 29, 1, tzinfo=UTC)}


@pytest.mark.django_db
def test_a_pending_run_left_for_the_slot_is_taken_and_finished(known_output):
    add_checks(known_output)
    rows = known_output.checks.get(name="rows")
    CheckRun.objects.create(quality_check=rows, scheduled_for=datetime(2026, 3, 29, 1, tzinfo=UTC))
    run_output_checks.run(known_output.pk, SLOT)
    assert statuses(known_output) == EXPECTED
    assert CheckRun.objects.count() == 3


@pytest.mark.django_db
def test_a_beat_sent_task_runs_the_checks_on_its_cron_for_the_latest_tick(known_output, monkeypatch):
    add_checks(known_output)
    nightly = factories.CheckFactory(output=known_output, name="nightly", check_type="row_count", schedule="30 2 * * *")
    monkeypatch.setattr(tasks.timezone, "now", lambda: datetime(2026, 3, 29, 3, 17, 45, tzinfo=UTC))
    assert run_output_checks.run(output_id=known_output.pk, schedule="30 2 * * *") == {"pass": 1}
    run = CheckRun.objects.get()
    assert (run.quality_check, run.scheduled_for) == (nightly, datetime(2026, 3, 29, 2, 30, tzinfo=UTC))
    # Delivered again within the slot: the same tick, nothing new.
    assert run_output_checks.run(output_id=known_output.pk, schedule="30 2 * * *") == {}
    assert CheckRun.objects.count() == 1


def test_previous_tick_follows_the_cron_in_utc():
    now = datetime(2026, 3, 29, 3, 17, 45, tzinfo=UTC)  # a Sunday
    assert previous_tick(cron_schedule("* * * * *"), now) == datetime(2026, 3, 29, 3, 17, tzinfo=UTC)
    assert previous_tick(cron_schedule("0 * * * *"), now) == datetime(2026, 3, 29, 3, 0, tzinfo=UTC)
    assert previous_tick(cron_schedule("45 23 * * *"), now) == datetime(2026, 3, 28, 23, 45, tzinfo=UTC)
    assert previous_tick(cron_schedule("0 9 * * 1-5"), now) == datetime(2026, 3, 27, 9, 0, tzinfo=UTC)
    assert previous_tick(cron_schedule("0 0 1 1 *"), now) == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.django_db
def test_an_unreachable_source_is_retried_then_recorded_as_error(product, caplog):
    output = factories.OutputFactory(product=product, name="gone", format="parquet", path="gone/nothing.parquet")
    factories.CheckFactory(output=output, name="rows", check_type="row_count")
    # apply() runs the retries in place, without their countdown: three retries, then the result.
    assert run_output_checks.apply(args=(output.pk, SLOT)).get() == {"error": 1}
    assert [record.message.split(":")[0] for record in caplog.records if record.name == "quality.tasks"] == [
        "Cannot reach cross-sell.gone (attempt 1)",
        "Cannot reach cross-sell.gone (attempt 2)",
        "Cannot reach cross-sell.gone (attempt 3)",
    ]
    run = CheckRun.objects.get()
    assert run.status == "error" and "does not exist" in run.error


@pytest.mark.django_db
def test_a_deleted_output_is_nothing_to_do():
    assert run_output_checks.run(987654, SLOT) == {}


@pytest.mark.django_db
def test_enqueue_sends_ids_only_after_the_commit(known_output, monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(run_output_checks, "apply_async", lambda **kwargs: sent.append(kwargs))
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_output_checks(known_output, datetime(2026, 3, 29, 1, tzinfo=UTC))
        assert sent == []
    assert sent == [
        {
            "kwargs": {"output_id": known_output.pk, "scheduled_for_iso": SLOT},
            "queue": "checks",
            "retry": True,
            "retry_policy": tasks.PUBLISH_RETRY_POLICY,
        }
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "error",
    [OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused."), TimeoutError("timed out")],
)
def test_a_broker_that_cannot_be_reached_fails_nothing_and_is_logged(
    known_output, monkeypatch, django_capture_on_commit_callbacks, caplog, error
):
    def refuse(**kwargs):
        raise error

    monkeypatch.setattr(run_output_checks, "apply_async", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_output_checks(known_output, datetime(2026, 3, 29, 1, tzinfo=UTC))
    [record] = [record for record in caplog.records if record.name == "quality.tasks"]
    assert record.levelname == "ERROR"
    assert record.getMessage().startswith(f"Could not queue the run of output {known_output.pk}'s checks for {SLOT}")


@pytest.mark.django_db
def test_an_error_that_is_not_the_brokers_is_not_hidden(known_output, monkeypatch, django_capture_on_commit_callbacks):
    def fail(**kwargs):
        raise TypeError("Object of type set is not JSON serializable")

    monkeypatch.setattr(run_output_checks, "apply_async", fail)
    with pytest.raises(TypeError), django_capture_on_commit_callbacks(execute=True):
        enqueue_output_checks(known_output, datetime(2026, 3, 29, 1, tzinfo=UTC))


@pytest.mark.django_db
def test_given_check_ids_only_those_checks_run(known_output):
    add_checks(known_output)
    rows = known_output.checks.get(name="rows")
    assert run_output_checks.run(known_output.pk, SLOT, check_ids=[rows.pk]) == {"pass": 1}
    assert statuses(known_output) == {"rows": "pass"}


@pytest.mark.django_db
def test_run_now_queues_only_the_chosen_checks(known_output, bob, monkeypatch, django_capture_on_commit_callbacks):
    from quality.runs import run_now

    add_checks(known_output)
    rows = known_output.checks.get(name="rows")
    sent = []
    monkeypatch.setattr(run_output_checks, "apply_async", lambda **kwargs: sent.append(kwargs))
    with django_capture_on_commit_callbacks(execute=True):
        runs = run_now(bob, known_output, [rows])
    assert [(run.quality_check, run.status) for run in runs] == [(rows, "pending")]
    assert sent[0]["kwargs"]["check_ids"] == [rows.pk]
