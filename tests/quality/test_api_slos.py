"""/api/v1/slos/: the products' SLOs with their latest figures, the checks measuring them, and their history."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from quality import slo as slo_module
from quality.choices import RunStatus
from tests import factories
from tests.quality.outcomes import NOW, finished_run

pytestmark = pytest.mark.django_db

LIST = "/api/v1/slos/"
FIGURES = ["compliance_percent", "budget_remaining_percent", "burn_rate", "evaluated_at", "good", "bad", "errors"]


def url(slo, rest: str = "") -> str:
    return f"{LIST}{slo.pk}/{rest}"


@pytest.fixture
def measured(product):
    """An SLO of 90 % over 7 days, measured by one check."""
    slo = factories.SLOFactory(product=product, name="Rows arrive", objective_percent=90, window_days=7)
    check = factories.CheckFactory(output=factories.OutputFactory(product=product), name="rows")
    check.slos.add(slo)
    return slo, check


def test_an_slo_never_evaluated_is_unknown_with_no_figures(api, alice, measured):
    slo, check = measured
    answer = api(alice).get(url(slo)).json()
    assert answer["state"] == "unknown"
    assert {name: answer[name] for name in FIGURES} == dict.fromkeys(FIGURES)  # null, never a made-up 0
    assert answer["checks"] == [check.pk]
    assert (answer["name"], answer["product"], answer["objective_percent"]) == ("Rows arrive", "cross-sell", "90.000")


def test_the_latest_evaluation_gives_the_figures(api, alice, measured):
    """19 good, 1 bad over the window: 95 % against 90 %, half the budget left, nothing in the last day."""
    slo, check = measured
    for hours in range(30, 49):
        finished_run(check, RunStatus.PASS, hours)
    finished_run(check, RunStatus.FAIL, 60)
    finished_run(check, RunStatus.ERROR, 61)
    slo_module.evaluate(slo, now=NOW - timedelta(hours=1))  # an older evaluation, superseded
    slo_module.evaluate(slo, now=NOW)
    answer = api(alice).get(url(slo)).json()
    assert answer["state"] == "met"
    assert answer["compliance_percent"] == pytest.approx(95.0)
    assert answer["budget_remaining_percent"] == pytest.approx(50.0)
    assert answer["burn_rate"] is None  # no measurement in the last 24 hours: unknown, not 0
    assert (answer["good"], answer["bad"], answer["errors"]) == (19, 1, 1)
    assert answer["evaluated_at"] == "2026-11-20T12:00:00Z"


def test_checks_are_set_on_the_checks_not_here(api, alice, measured, product):
    slo, check = measured
    response = api(alice).patch(url(slo), {"checks": [], "state": "met", "name": "Renamed"}, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["checks"], response.json()["state"], response.json()["name"]) == (
        [check.pk],
        "unknown",
        "Renamed",
    )
    created = api(alice).post(
        LIST, {"product": product.slug, "name": "Fresh", "indicator": "Daily", "objective_percent": "99"}, format="json"
    )
    assert created.status_code == 201, created.json()
    assert (created.json()["checks"], created.json()["state"], created.json()["good"]) == ([], "unknown", None)


def test_outsiders_see_slos_of_published_products_only(api, charlie, measured, draft):
    slo, _ = measured
    hidden = factories.SLOFactory(product=draft)
    client = api(charlie)
    assert [item["id"] for item in client.get(LIST).json()["results"]] == [slo.pk]
    assert client.get(url(hidden)).status_code == 404
    assert client.get(url(hidden, "history/")).status_code == 404
    assert client.get(url(slo, "history/")).status_code == 200


def test_the_list_takes_the_same_queries_for_1_or_10_slos(api, alice, product):
    output = factories.OutputFactory(product=product)
    client = api(alice)

    def add(count: int) -> None:
        for slo in factories.SLOFactory.create_batch(count, product=product):
            check = factories.CheckFactory(output=output)
            check.slos.add(slo)
            finished_run(check, RunStatus.PASS, 1)
            slo_module.evaluate(slo, now=NOW)

    add(1)
    client.get(LIST)  # warm the caches any first request fills
    with CaptureQueriesContext(connection) as one:
        client.get(LIST)
    add(9)
    with CaptureQueriesContext(connection) as ten:
        results = client.get(LIST).json()["results"]
    assert len(results) == 10
    assert all(item["state"] == "met" and len(item["checks"]) == 1 for item in results)
    assert len(ten) == len(one)


# --- History --------------------------------------------------------------------------------


@pytest.fixture
def history(measured):
    """Evaluations at 10:00, 11:00 and 12:00."""
    slo, check = measured
    finished_run(check, RunStatus.PASS, 5)
    return slo, [slo_module.evaluate(slo, now=NOW - timedelta(hours=hours)) for hours in (2, 1, 0)]


def test_history_lists_evaluations_newest_first_in_pages(api, alice, history):
    slo, (first, second, third) = history
    page = api(alice).get(url(slo, "history/")).json()
    assert page["count"] == 3
    assert [item["id"] for item in page["results"]] == [third.pk, second.pk, first.pk]
    assert set(page["results"][0]) == {"id", "window_start", "state", *FIGURES}
    assert page["results"][0]["compliance_percent"] == 100.0
    assert len(api(alice).get(url(slo, "history/?page_size=2")).json()["results"]) == 2


def test_history_filters_by_since_and_until(api, alice, history):
    slo, (first, second, third) = history
    client = api(alice)

    def ids(query: dict) -> list[int]:
        response = client.get(url(slo, "history/"), query)
        assert response.status_code == 200, response.json()
        return [item["id"] for item in response.json()["results"]]

    assert ids({"since": "2026-11-20T11:00:00Z"}) == [third.pk, second.pk]
    assert ids({"until": "2026-11-20T11:00:00Z"}) == [second.pk, first.pk]
    assert ids({"since": "2026-11-20T10:30:00Z", "until": "2026-11-20T11:30:00+00:00"}) == [second.pk]


@pytest.mark.parametrize("query", [{"since": "last week"}, {"until": "2026-11-31T00:00:00Z"}])
def test_a_bad_time_is_a_400_naming_it(api, alice, history, query):
    slo, _ = history
    response = api(alice).get(url(slo, "history/"), query)
    assert response.status_code == 400
    assert list(response.json()) == list(query)
