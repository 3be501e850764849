"""Beat's schedules follow the checks: one PeriodicTask per output and cron, disabled checks unscheduled."""

import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from quality.models import Check
from quality.schedules import NAME_PREFIX
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
