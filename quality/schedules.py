"""The checks' cron schedules as django-celery-beat rows, kept in step with the checks.

One ``PeriodicTask`` per output and cron expression: the engine runs all the checks of an output
in one pass, so checks of one output that share a schedule share one task (its kwargs name the
output and the cron; the task runs only the enabled checks on that cron). A check saved or
deleted re-syncs its output (signals, see ``apps.py``); ``manage.py sync_check_schedules``
rebuilds every row. Disabled checks are not scheduled. Schedules are in UTC. A crontab row left
unused by a change or a delete (no PeriodicTask points at it any more) is removed after the commit.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import DatabaseError, transaction
from django.db.models import Q
from django_celery_beat.models import CrontabSchedule, PeriodicTask, PeriodicTasks

from utilities.batches import batched

from .models import CRON_FIELDS, Check
from .tasks import QUEUE, run_output_checks

logger = logging.getLogger(__name__)

NAME_PREFIX = "quality checks: output "
TASK = run_output_checks.name


def task_name(output_id: int, schedule: str) -> str:
    return f"{NAME_PREFIX}{output_id} @ {schedule}"


def output_prefix(output_id: int) -> str:
    return f"{NAME_PREFIX}{output_id} @ "


def crontab_for(schedule: str) -> CrontabSchedule:
    fields = dict(zip(CRON_FIELDS, schedule.split(), strict=True))
    # No unique key on CrontabSchedule (rows may come from the admin too): reuse the first match.
    existing = CrontabSchedule.objects.filter(**fields, timezone="UTC").order_by("pk").first()
    return existing or CrontabSchedule.objects.create(**fields, timezone="UTC")


@transaction.atomic
def sync_output_schedules(*output_ids: int) -> None:
    """Make each output's PeriodicTask rows match its enabled checks' schedules.

    Outputs go in chunks that share their queries, so a spec import syncing a thousand outputs
    reads the checks and the tasks once per chunk, inserts new tasks together and tells beat once.
    """
    for chunk in batched(sorted(set(output_ids)), SYNC_CHUNK):
        sync_chunk(chunk)


SYNC_CHUNK = 200


def sync_chunk(output_ids: list[int]) -> None:
    wanted: dict[int, set[str]] = {output_id: set() for output_id in output_ids}
    enabled = Check.objects.filter(output_id__in=output_ids, enabled=True).values_list("output_id", "schedule")
    for output_id, schedule in enabled:
        wanted[output_id].add(schedule)
    prefixes = Q()
    for output_id in output_ids:
        prefixes |= Q(name__startswith=output_prefix(output_id))
    stored = {task.name: task for task in PeriodicTask.objects.filter(prefixes)}
    released: set[int] = set()  # crontab rows this sync stops using
    new, crontabs = [], {}
    for output_id in output_ids:
        for schedule in sorted(wanted[output_id]):
            task = stored.pop(task_name(output_id, schedule), None)
            kwargs = json.dumps({"output_id": output_id, "schedule": schedule})
            if task and (task.task, task.kwargs, task.queue, task.enabled) == (TASK, kwargs, QUEUE, True):
                continue  # unchanged: no write, so beat does not reload for nothing
            if task and task.crontab_id:
                released.add(task.crontab_id)
            task = task or PeriodicTask(name=task_name(output_id, schedule))
            task.task, task.kwargs, task.args, task.queue, task.enabled = TASK, kwargs, "[]", QUEUE, True
            if schedule not in crontabs:
                crontabs[schedule] = crontab_for(schedule)
            task.crontab, task.interval, task.solar, task.clocked = crontabs[schedule], None, None, None
            task.description = f"Quality checks of output {output_id} on the cron {schedule} (UTC)."
            if task.pk is None:
                new.append(task)
            else:
                task.save()
    if new:
        # One INSERT; ``bulk_create`` skips PeriodicTask.save, which only blanks empty routing fields
        # (these have none) and tells beat to reload: done once below.
        PeriodicTask.objects.bulk_create(new)
        PeriodicTasks.update_changed()
    for task in stored.values():  # no enabled check wants these any more
        released.add(task.crontab_id)
        task.delete()  # one by one: django-celery-beat's delete tells beat to reload
    drop_unused_crontabs(released)


def drop_unused_crontabs(ids: set[int | None]) -> None:
    """After the commit, delete those of these crontab rows that no PeriodicTask uses any more.

    After the commit and in a transaction of its own, so a sync racing to reuse a row cannot fail a
    check's save: at worst the row stays until the next sync.
    """
    ids = {pk for pk in ids if pk is not None}
    if ids:
        transaction.on_commit(lambda: _drop_unused_crontabs(ids))


def _drop_unused_crontabs(ids: set[int]) -> None:
    try:
        in_use = PeriodicTask.objects.filter(crontab__isnull=False).values("crontab_id")
        unused = CrontabSchedule.objects.filter(pk__in=ids).exclude(pk__in=in_use)
        with transaction.atomic():
            # One plain DELETE … WHERE NOT IN (in use): Django's delete() would collect and cascade
            # to the tasks, so a task attached meanwhile would go too; the database refuses instead.
            unused._raw_delete(unused.db)
    except DatabaseError as exc:
        logger.warning("Unused crontab rows %s stay for the next sync: %s", sorted(ids), exc)


@transaction.atomic
def sync_all_schedules() -> tuple[int, int]:
    """Rebuild every check schedule; returns (outputs synced, stale tasks removed)."""
    output_ids = set(Check.objects.values_list("output_id", flat=True))
    removed = 0
    for task in PeriodicTask.objects.filter(name__startswith=NAME_PREFIX):
        output_id = task.name[len(NAME_PREFIX) :].split(" @ ", 1)[0]
        if not output_id.isdigit() or int(output_id) not in output_ids:
            drop_unused_crontabs({task.crontab_id})
            task.delete()
            removed += 1
    sync_output_schedules(*output_ids)
    return len(output_ids), removed


# Output ids waiting for a sync, while a bulk change (a spec import) saves many checks at once.
_deferred: ContextVar[set[int] | None] = ContextVar("deferred_schedule_syncs", default=None)


@contextmanager
def syncs_deferred() -> Iterator[None]:
    """Sync each touched output once, when the block ends, instead of once per check saved.

    For bulk changes: an import of a spec with fifty checks syncs its outputs once each. The sync
    still runs inside the caller's transaction, so the schedules commit (or roll back) with the checks.
    """
    if _deferred.get() is not None:  # nested: the outer block syncs
        yield
        return
    token = _deferred.set(set())
    try:
        yield
        pending = _deferred.get()
    finally:
        _deferred.reset(token)
    sync_output_schedules(*pending)


def sync_soon(output_id: int) -> None:
    pending = _deferred.get()
    if pending is None:
        sync_output_schedules(output_id)
    else:
        pending.add(output_id)


def on_check_saved(sender, instance: Check, **kwargs) -> None:
    if kwargs.get("raw"):
        return  # loaddata: sync_check_schedules afterwards
    previous = getattr(instance, "_scheduled_output_id", None)
    sync_soon(instance.output_id)
    if previous and previous != instance.output_id:
        sync_soon(previous)
    instance._scheduled_output_id = instance.output_id


def on_check_loaded(sender, instance: Check, **kwargs) -> None:
    # __dict__, not the attribute: a deferred output_id must not cost a query per loaded check.
    instance._scheduled_output_id = instance.__dict__.get("output_id")


def on_check_deleted(sender, instance: Check, **kwargs) -> None:
    sync_soon(instance.output_id)
