"""Runs are job records: one per check and slot, claimed by exactly one worker; seen through the product."""

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError

from quality.engine import Result, record_results
from quality.models import Check, CheckRun
from tests import factories

pytestmark = pytest.mark.django_db
SLOT = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


@pytest.fixture
def check(product):
    return factories.CheckFactory(output=factories.OutputFactory(product=product), name="rows")


def test_a_pending_run_is_claimed_by_exactly_one_of_two_deliveries(check):
    run = CheckRun.objects.create(quality_check=check, scheduled_for=SLOT)
    twin = CheckRun.objects.get(pk=run.pk)  # the same row, as a second delivery read it
    assert run.claim() is True
    assert twin.claim() is False  # it read attempts=0; the row has moved on
    run.refresh_from_db()
    assert (run.status, run.attempts) == ("running", 1)
    assert run.started is not None


def test_a_finished_run_is_never_claimed(check):
    [run] = record_results([Result(check, "pass", 6.0)], scheduled_for=SLOT)
    assert run.claim() is False
    assert CheckRun.objects.get(pk=run.pk).attempts == 1


def test_a_slot_has_exactly_one_run(check):
    CheckRun.objects.create(quality_check=check, scheduled_for=SLOT)
    with pytest.raises(IntegrityError):
        CheckRun.objects.create(quality_check=check, scheduled_for=SLOT)


def test_recording_twice_for_a_slot_keeps_the_first_result(check):
    [run] = record_results([Result(check, "fail", 0.0, [{"id": 1}], "", 12)], scheduled_for=SLOT)
    assert (run.status, run.observed_value, run.samples, run.duration_ms) == ("fail", 0.0, [{"id": 1}], 12)
    assert run.finished is not None
    record_results([Result(check, "pass", 5.0)], scheduled_for=SLOT)
    assert CheckRun.objects.get().status == "fail"


def test_recording_without_a_slot_uses_now_to_the_second(check):
    [run] = record_results([Result(check, "error", error="The file is gone.")])
    assert run.scheduled_for.microsecond == 0
    assert (run.status, run.error) == ("error", "The file is gone.")


def test_checks_and_runs_of_a_draft_are_hidden_from_outsiders(product, draft, alice, bob, charlie, admin_user):
    public = factories.CheckFactory(output=factories.OutputFactory(product=product), name="public")
    hidden = factories.CheckFactory(output=factories.OutputFactory(product=draft), name="hidden")
    for check in (public, hidden):
        CheckRun.objects.create(quality_check=check, scheduled_for=SLOT)
    assert set(Check.objects.restrict(charlie, "view")) == {public}
    assert set(CheckRun.objects.restrict(charlie, "view").values_list("quality_check", flat=True)) == {public.pk}
    for insider in (alice, bob, admin_user):
        assert set(Check.objects.restrict(insider, "view")) == {public, hidden}
    assert not Check.objects.restrict(charlie, "change").exists()
    assert set(Check.objects.restrict(bob, "change")) == {public, hidden}
