"""Beat's schedules follow the checks: one PeriodicTask per output and cron, disabled checks unscheduled."""

import io
import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from hub.celery import app
from quality.models import Check, cron_schedule
from quality.schedules import NAME_PREFIX
from quality.tasks import previous_tick
from tests import factories

pytestmark = pytest.mark.django_db


def scheduled() -> dict[str, dict]:
    """{name: kwargs} of the check tasks, with their crontab as 'm h dom mon dow tz'."""
    rows = {}
    for task in PeriodicTask.objects.filter(name__startswith=NAME_PREFIX).select_related("crontab"):
        cron = task.crontab
        rows[task.name] = {
            **json.loads(task.kwargs),
            "cron": f"{cron.minute} {cron.hour} {cron.day_of_month} {cron.month_of_year} {cron.day_of_week}",
            "tz": str(cron.timezone),
            "queue": task.queue,
            "task": task.task,
            "enabled": task.enabled,
        }
    return rows


def test_creating_a_check_schedules_its_output_once_per_cron(product):
    output = factories.OutputFactory(product=product)
    factories.CheckFactory(output=output, name="a", schedule="0 * * * *")
    factories.CheckFactory(output=output, name="b", schedule="0 * * * *")
    factories.CheckFactory(output=output, name="c", schedule="*/15 6-18 * * 1-5")
    assert scheduled() == {
        f"{NAME_PREFIX}{output.pk} @ 0 * * * *": {
            "output_id": output.pk, "schedule": "0 * * * *", "cron": "0 * * * *", "tz": "UTC",
            "queue": "checks", "task": "quality.tasks.run_output_checks", "enabled": True,
        },
        f"{NAME_PREFIX}{output.pk} @ */15 6-18 * * 1-5": {
            "output_id": output.pk, "schedule": "*/15 6-18 * * 1-5", "cron": "*/15 6-18 * * 1-5", "tz": "UTC",
            "queue": "checks", "task": "quality.tasks.run_output_checks", "enabled": True,
        },
    }  # fmt: skip


def test_changing_disabling_and_deleting_checks_updates_the_tasks(product):
    output = factories.OutputFactory(product=product)
    check = factories.CheckFactory(output=output, name="a", schedule="0 * * * *")
    other = factories.CheckFactory(output=output, name="b", schedule="0 * * * *")

    check.schedule = "30 2 * * *"
    check.save()
    assert {row["schedule"] for row in scheduled().values()} == {"0 * * * *", "30 2 * * *"}

    other.enabled = False
    other.save()
    assert {row["schedule"] for row in scheduled().values()} == {"30 2 * * *"}

    check.delete()
    assert scheduled() == {}
    other.enabled = True
    other.save()
    assert {row["schedule"] for row in scheduled().values()} == {"0 * * * *"}
    output.delete()  # the checks go with it, and so do their tasks
    assert scheduled() == {}


def test_moving_a_check_to_another_output_reschedules_both(product):
    first, second = factories.OutputFactory(product=product), factories.OutputFactory(product=product)
    check = factories.CheckFactory(output=first, name="a")
    check = Check.objects.get(pk=check.pk)
    check.output = second
    check.save()
    assert [row["output_id"] for row in scheduled().values()] == [second.pk]


def test_a_bad_cron_is_refused_before_it_reaches_beat(product):
    output = factories.OutputFactory(product=product)
    check = factories.CheckFactory.build(output=output, name="a", schedule="61 * * * *")
    with pytest.raises(ValidationError, match="minute"):
        check.full_clean()
    assert scheduled() == {}


def test_sync_check_schedules_rebuilds_everything_and_is_idempotent(product):
    output = factories.OutputFactory(product=product)
    factories.CheckFactory(output=output, name="a", schedule="0 * * * *")
    factories.CheckFactory(output=output, name="off", schedule="5 * * * *", enabled=False)
    expected = scheduled()
    PeriodicTask.objects.filter(name__startswith=NAME_PREFIX).delete()
    hourly = CrontabSchedule.objects.create(minute="0", timezone="UTC")
    PeriodicTask.objects.create(
        name=f"{NAME_PREFIX}999999 @ 0 * * * *", task="quality.tasks.run_output_checks", crontab=hourly
    )
    PeriodicTask.objects.create(name="someone else's task", task="celery.backend_cleanup", crontab=hourly)

    out = io.StringIO()
    call_command("sync_check_schedules", stdout=out)
    assert "1 output(s); 1 stale task(s) removed" in out.getvalue()
    assert scheduled() == expected
    updated = PeriodicTask.objects.get(name__startswith=NAME_PREFIX).date_changed

    call_command("sync_check_schedules", stdout=io.StringIO())
    assert scheduled() == expected
    assert PeriodicTask.objects.get(name__startswith=NAME_PREFIX).date_changed == updated
    assert PeriodicTask.objects.filter(name="someone else's task").exists()


def crontab_ids() -> set[int]:
    return set(CrontabSchedule.objects.values_list("pk", flat=True))


def test_crontab_rows_no_task_uses_any_more_are_removed(product, django_capture_on_commit_callbacks):
    admins = CrontabSchedule.objects.create(minute="7", timezone="UTC")  # made in the admin, unused: not ours
    first, second = factories.OutputFactory(product=product), factories.OutputFactory(product=product)
    with django_capture_on_commit_callbacks(execute=True):
        check = factories.CheckFactory(output=first, name="a", schedule="0 * * * *")
        factories.CheckFactory(output=second, name="b", schedule="0 * * * *")  # shares the hourly row
        factories.CheckFactory(output=second, name="c", schedule="15 4 * * *")
    hourly = CrontabSchedule.objects.get(minute="0", hour="*").pk
    nightly = CrontabSchedule.objects.get(minute="15", hour="4").pk
    assert crontab_ids() == {admins.pk, hourly, nightly}

    with django_capture_on_commit_callbacks(execute=True):
        check.schedule = "30 2 * * *"
        check.save()
    assert hourly in crontab_ids()  # still the second output's
    with django_capture_on_commit_callbacks(execute=True):
        Check.objects.filter(output=second, name="b").get().delete()
        Check.objects.filter(output=second, name="c").get().delete()
    assert crontab_ids() == {admins.pk, CrontabSchedule.objects.get(minute="30", hour="2").pk}

    with django_capture_on_commit_callbacks(execute=True):
        check.delete()
    assert crontab_ids() == {admins.pk}
    assert scheduled() == {}


# --- Daylight saving: schedules are UTC inside -----------------------------------------------------

# Europe moves its clocks at 01:00 UTC on these Sundays: 02:30 local does not exist in spring and
# happens twice in autumn. A cron in UTC does not care.
DST_WEEKS = [datetime(2026, 3, 26, tzinfo=UTC), datetime(2026, 10, 22, tzinfo=UTC)]


@pytest.mark.parametrize("start", DST_WEEKS, ids=["spring", "autumn"])
def test_a_nightly_cron_gets_one_slot_a_day_at_the_same_utc_time_across_a_dst_change(start, settings):
    settings.TIME_ZONE = "Europe/Berlin"  # the display time zone; slots stay in UTC
    schedule = cron_schedule("30 2 * * *")
    moments = [start + timedelta(minutes=7 * step) for step in range(6 * 24 * 60 // 7)]  # six days
    slots = sorted({previous_tick(schedule, moment) for moment in moments})
    first = datetime(start.year, start.month, start.day - 1, 2, 30, tzinfo=UTC)
    assert slots == [first + timedelta(days=day) for day in range(7)]  # none skipped, none doubled


@pytest.mark.parametrize("start", DST_WEEKS, ids=["spring", "autumn"])
def test_beat_sends_a_nightly_cron_every_24_hours_across_a_dst_change(product, start):
    factories.CheckFactory(output=factories.OutputFactory(product=product), name="a", schedule="30 2 * * *")
    crontab = PeriodicTask.objects.get(name__startswith=NAME_PREFIX).crontab
    assert str(crontab.timezone) == "UTC"
    beat_schedule = crontab.schedule  # what django-celery-beat's scheduler computes with
    sent = [start.replace(hour=2, minute=30)]
    for _ in range(6):
        last_run_at, wait, _now = beat_schedule.remaining_delta(sent[-1])
        sent.append(last_run_at + wait)
    assert [later - earlier for earlier, later in itertools.pairwise(sent)] == [timedelta(days=1)] * 6
    assert {(moment.hour, moment.minute, moment.utcoffset()) for moment in sent} == {(2, 30, timedelta(0))}


def test_celery_schedules_in_utc():
    assert settings.CELERY_TIMEZONE == "UTC"
    assert str(app.conf.timezone) == "UTC"


def test_a_bulk_change_syncs_each_output_once_when_it_ends(product):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from quality.schedules import syncs_deferred

    output = factories.OutputFactory(product=product)
    with CaptureQueriesContext(connection) as one_by_one:
        for n in range(5):
            factories.CheckFactory(output=output, name=f"one {n}", schedule="0 * * * *")
    with CaptureQueriesContext(connection) as bulk:
        with syncs_deferred():
            for n in range(5):
                factories.CheckFactory(output=output, name=f"bulk {n}", schedule="30 * * * *")
            assert f"{NAME_PREFIX}{output.pk} @ 30 * * * *" not in scheduled()  # not yet: at the end
            with syncs_deferred():  # nested blocks leave the sync to the outer one
                Check.objects.filter(name="bulk 4").get().delete()
    assert set(scheduled()) == {f"{NAME_PREFIX}{output.pk} @ 0 * * * *", f"{NAME_PREFIX}{output.pk} @ 30 * * * *"}
    assert len(bulk) < len(one_by_one)


def test_a_deferred_sync_of_many_outputs_writes_each_outputs_tasks_and_tells_beat_once(product):
    from django_celery_beat.models import PeriodicTasks

    from quality import schedules
    from quality.models import Check

    outputs = [factories.OutputFactory(product=product, name=f"out{n}") for n in range(schedules.SYNC_CHUNK + 5)]
    stale = factories.CheckFactory(output=outputs[0], name="old", schedule="7 7 * * *")
    before = PeriodicTasks.last_change()
    with schedules.syncs_deferred():
        Check.objects.filter(pk=stale.pk).update(enabled=False)  # no signal: the sync must still drop its task
        for n, output in enumerate(outputs):
            factories.CheckFactory(output=output, name="rows", schedule=f"{n % 60} * * * *")
    names = set(scheduled())
    assert names == {f"{NAME_PREFIX}{output.pk} @ {n % 60} * * * *" for n, output in enumerate(outputs)}
    assert PeriodicTasks.last_change() > before
    assert CrontabSchedule.objects.filter(minute="7", hour="7").count() <= 1  # dropped after commit, if unused
