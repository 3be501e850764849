"""Running a check now (POST /api/v1/checks/<id>/run/) and reading runs (/api/v1/check-runs/)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from quality.choices import RunStatus
from quality.models import CheckRun
from tests import factories
from tests.quality.outcomes import NOW, finished_run

pytestmark = pytest.mark.django_db

RUNS = "/api/v1/check-runs/"


@pytest.fixture
def check(product):
    return factories.CheckFactory(output=factories.OutputFactory(product=product, name="orders"), name="rows present")


@pytest.fixture
def draft_check(draft):
    return factories.CheckFactory(output=factories.OutputFactory(product=draft, name="churners"))


def run_url(check) -> str:
    return f"/api/v1/checks/{check.pk}/run/"


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [item["id"] for item in response.json()["results"]]


# --- Run now --------------------------------------------------------------------------------


def test_a_steward_runs_a_check_now_and_gets_the_pending_run(api, bob, check, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as queued:  # the worker's task is sent after the commit
        response = api(bob).post(run_url(check))
    assert response.status_code == 202, response.json()
    run = CheckRun.objects.get()
    assert (run.quality_check, run.status) == (check, RunStatus.PENDING)
    [answer] = response.json()
    assert (answer["id"], answer["check"], answer["status"]) == (run.pk, check.pk, "pending")
    assert (answer["product"], answer["check_name"], answer["finished"]) == ("cross-sell", "rows present", None)
    assert len(queued) == 1


def test_a_disabled_check_does_not_run(api, bob, check, django_capture_on_commit_callbacks):
    check.enabled = False
    check.save()
    with django_capture_on_commit_callbacks() as queued:
        response = api(bob).post(run_url(check))
    assert response.status_code == 400
    assert list(response.json()) == ["enabled"]
    assert not CheckRun.objects.exists()
    assert not queued


def test_outsiders_cannot_run_checks(api, charlie, check, draft_check, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as queued:
        assert api(charlie).post(run_url(draft_check)).status_code == 404
        assert api(charlie).post(run_url(check)).status_code == 403
    assert not CheckRun.objects.exists()
    assert not queued


def test_anonymous_visitors_cannot_run_checks(api, check):
    assert api(None).post(run_url(check)).status_code == 401
    assert not CheckRun.objects.exists()


# --- Reading runs ---------------------------------------------------------------------------


def test_runs_are_seen_with_their_product(api, charlie, check, draft_check):
    seen = finished_run(check, RunStatus.PASS)
    hidden = finished_run(draft_check, RunStatus.FAIL)
    client = api(charlie)
    assert ids(client.get(RUNS)) == [seen.pk]
    assert client.get(f"{RUNS}{seen.pk}/").status_code == 200
    assert client.get(f"{RUNS}{hidden.pk}/").status_code == 404


def test_runs_are_read_only(api, admin_user, check):
    run = finished_run(check, RunStatus.PASS)
    client = api(admin_user)
    assert client.post(RUNS, {"check": check.pk}, format="json").status_code == 405
    assert client.patch(f"{RUNS}{run.pk}/", {"status": "fail"}, format="json").status_code == 405
    assert client.delete(f"{RUNS}{run.pk}/").status_code == 405


def test_a_run_shows_its_check_product_output_and_samples_as_stored(api, alice, check):
    run = finished_run(check, RunStatus.FAIL, observed=2)
    run.samples = [{"id": 3, "email": "***"}, {"id": 4, "email": None}]
    run.error, run.duration_ms, run.attempts = "", 42, 1
    run.save()
    answer = api(alice).get(f"{RUNS}{run.pk}/").json()
    assert answer == {
        "id": run.pk,
        "check": check.pk,
        "check_name": "rows present",
        "product": "cross-sell",
        "output": check.output_id,
        "scheduled_for": "2026-11-20T12:00:00Z",
        "started": "2026-11-20T12:00:00Z",
        "finished": "2026-11-20T12:00:00Z",
        "status": "fail",
        "observed_value": 2.0,
        "samples": [{"id": 3, "email": "***"}, {"id": 4, "email": None}],
        "error": "",
        "duration_ms": 42,
        "attempts": 1,
    }


def test_runs_come_newest_first_in_pages(api, alice, check):
    older = finished_run(check, RunStatus.PASS, hours_ago=2)
    newer = finished_run(check, RunStatus.FAIL, hours_ago=1)
    assert ids(api(alice).get(RUNS)) == [newer.pk, older.pk]
    page = api(alice).get(f"{RUNS}?page_size=1").json()
    assert (page["count"], len(page["results"]), page["next"] is not None) == (2, 1, True)


def test_runs_filter_by_product_check_output_and_status(api, alice, check, draft_check):
    passed = finished_run(check, RunStatus.PASS, hours_ago=3)
    warned = finished_run(check, RunStatus.WARN, hours_ago=2)
    failed = finished_run(draft_check, RunStatus.FAIL, hours_ago=1)
    client = api(alice)
    assert ids(client.get(f"{RUNS}?product=churn")) == [failed.pk]
    assert ids(client.get(f"{RUNS}?check={check.pk}")) == [warned.pk, passed.pk]
    assert ids(client.get(f"{RUNS}?output={draft_check.output_id}")) == [failed.pk]
    assert ids(client.get(f"{RUNS}?status=fail&status=warn")) == [failed.pk, warned.pk]
    assert ids(client.get(f"{RUNS}?status=pass&product=churn")) == []


def test_runs_filter_by_scheduled_time(api, alice, check):
    early = finished_run(check, RunStatus.PASS, hours_ago=10)
    middle = finished_run(check, RunStatus.PASS, hours_ago=5)
    late = finished_run(check, RunStatus.PASS, hours_ago=1)
    client = api(alice)
    assert ids(client.get(RUNS, {"scheduled_after": "2026-11-20T06:00:00Z"})) == [late.pk, middle.pk]
    assert ids(client.get(RUNS, {"scheduled_before": "2026-11-20T07:00:00+00:00"})) == [middle.pk, early.pk]
    window = {"scheduled_after": "2026-11-20T03:00:00Z", "scheduled_before": "2026-11-20T08:00:00Z"}
    assert ids(client.get(RUNS, window)) == [middle.pk]
    assert ids(client.get(RUNS, {"scheduled_after": NOW.isoformat()})) == []


@pytest.mark.parametrize(
    "query",
    [
        {"scheduled_after": "yesterday"},
        {"scheduled_before": "2026-13-01T00:00:00Z"},
        {"scheduled_before": "0001-01-01T00:00:00+14:00"},  # before the first moment a UTC date can name
        {"status": "exploded"},
        {"check": "first"},
        {"output": str(10**30)},
        {"product": "a\x00b"},
    ],
)
def test_a_bad_filter_is_a_400_naming_it(api, alice, check, query):
    response = api(alice).get(RUNS, query)
    assert response.status_code == 400, response.content
    assert list(response.json()) == list(query)


def test_the_list_takes_the_same_queries_for_2_or_20_runs(api, alice, check):
    client = api(alice)
    for hours in range(2):
        finished_run(check, RunStatus.PASS, hours_ago=hours)
    client.get(RUNS)  # warm the caches any first request fills
    with CaptureQueriesContext(connection) as few:
        client.get(RUNS)
    for hours in range(2, 20):
        finished_run(factories.CheckFactory(output=check.output), RunStatus.FAIL, hours_ago=hours)
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(RUNS).json()["results"]) == 20
    assert len(many) == len(few)
