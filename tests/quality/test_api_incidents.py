"""/api/v1/incidents/: seen with their product; its editors acknowledge and resolve them (with a reason)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from quality import slo as slo_module
from quality.choices import IncidentStatus, RunStatus, Severity
from quality.models import Incident, IncidentEvent
from tests import factories
from tests.quality.outcomes import NOW, run_and_follow

pytestmark = pytest.mark.django_db

LIST = "/api/v1/incidents/"


def url(incident, rest: str = "") -> str:
    return f"{LIST}{incident.pk}/{rest}"


def failing(product, name: str = "rows present") -> Incident:
    """An open incident: a fail-severity check of the product failed once."""
    check = factories.CheckFactory(output=factories.OutputFactory(product=product), name=name)
    run_and_follow(check, RunStatus.FAIL)
    return Incident.objects.get(quality_check=check)


@pytest.fixture
def incident(product):
    return failing(product)


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [item["id"] for item in response.json()["results"]]


# --- Reading --------------------------------------------------------------------------------


def test_outsiders_see_incidents_of_published_products_only(api, charlie, incident, draft):
    hidden = failing(draft)
    client = api(charlie)
    assert ids(client.get(LIST)) == [incident.pk]
    assert client.get(url(incident)).status_code == 200
    assert client.get(url(hidden)).status_code == 404


def test_the_detail_carries_the_timeline(api, alice, incident):
    run_and_follow(incident.quality_check, RunStatus.FAIL, hours_ago=-1)  # fails again an hour later
    answer = api(alice).get(url(incident)).json()
    assert (answer["status"], answer["occurrences"], answer["product"]) == ("open", 2, "cross-sell")
    assert (answer["check"], answer["slo"], answer["acknowledged_by"]) == (incident.quality_check_id, None, None)
    assert answer["title"] == "Check failed: rows present on " + incident.quality_check.output.name
    assert [event["kind"] for event in answer["events"]] == ["opened", "failed_again"]
    assert all(event["run"] for event in answer["events"])
    assert "events" not in api(alice).get(LIST).json()["results"][0]


def test_incidents_filter_by_product_status_check_and_slo(api, alice, incident, draft, product):
    elsewhere = failing(draft)
    acknowledged = failing(product, "emails present")
    acknowledged.status = IncidentStatus.ACKNOWLEDGED
    acknowledged.save()
    slo = factories.SLOFactory(product=product, objective_percent=90, window_days=1)
    warn = factories.CheckFactory(output=incident.quality_check.output, severity=Severity.WARN)
    warn.slos.add(slo)
    run_and_follow(warn, RunStatus.WARN)
    slo_module.evaluate(slo, NOW)  # breached at the time of the run
    breached = Incident.objects.get(slo=slo)
    client = api(alice)
    assert ids(client.get(LIST, {"product": "churn"})) == [elsewhere.pk]
    assert set(ids(client.get(f"{LIST}?status=acknowledged&status=resolved"))) == {acknowledged.pk}
    assert set(ids(client.get(f"{LIST}?status=open&product=cross-sell"))) == {incident.pk, breached.pk}
    assert ids(client.get(LIST, {"check": incident.quality_check_id})) == [incident.pk]
    assert ids(client.get(LIST, {"slo": slo.pk})) == [breached.pk]


@pytest.mark.parametrize("query", [{"status": "burning"}, {"check": "one"}, {"slo": str(10**30)}, {"product": "\x00"}])
def test_a_bad_filter_is_a_400_naming_it(api, alice, incident, query):
    response = api(alice).get(LIST, query)
    assert response.status_code == 400
    assert list(response.json()) == list(query)


def test_the_list_takes_the_same_queries_for_2_or_10_incidents(api, alice, product):
    client = api(alice)
    for number in range(2):
        failing(product, f"check {number}")
    client.get(LIST)  # warm the caches any first request fills
    with CaptureQueriesContext(connection) as few:
        client.get(LIST)
    for number in range(2, 10):
        failing(product, f"check {number}")
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(LIST).json()["results"]) == 10
    assert len(many) == len(few)


def test_incidents_are_read_only_but_for_their_actions(api, admin_user, incident):
    client = api(admin_user)
    assert client.post(LIST, {"title": "Made up"}, format="json").status_code == 405
    assert client.patch(url(incident), {"status": "resolved"}, format="json").status_code == 405
    assert client.delete(url(incident)).status_code == 405
    assert Incident.objects.get().status == IncidentStatus.OPEN


# --- Acknowledge and resolve ----------------------------------------------------------------


def test_a_steward_acknowledges_then_resolves(api, bob, incident):
    client = api(bob)
    acknowledged = client.post(url(incident, "acknowledge/"), {"note": "Looking at the loader."}, format="json")
    assert acknowledged.status_code == 200, acknowledged.json()
    assert (acknowledged.json()["status"], acknowledged.json()["acknowledged_by"]) == ("acknowledged", "bob")
    assert acknowledged.json()["events"][-1] | {"id": None, "at": None} == {
        "id": None,
        "at": None,
        "kind": "acknowledged",
        "user": "bob",
        "note": "Looking at the loader.",
        "run": None,
        "evaluation": None,
    }
    resolved = client.post(url(incident, "resolve/"), {"reason": "Reloaded the file."}, format="json")
    assert resolved.status_code == 200, resolved.json()
    assert (resolved.json()["status"], resolved.json()["resolved_by"]) == ("resolved", "bob")
    assert resolved.json()["resolution"] == "Reloaded the file."
    assert [event["kind"] for event in resolved.json()["events"]] == ["opened", "acknowledged", "resolved"]


def test_the_owner_resolves_without_acknowledging_and_a_note_is_optional(api, alice, product, incident):
    other = failing(product, "emails present")
    client = api(alice)
    assert client.post(url(other, "acknowledge/")).status_code == 200
    assert IncidentEvent.objects.filter(incident=other, kind="acknowledged", note="").exists()
    response = client.post(url(incident, "resolve/"), {"reason": "A known outage upstream."}, format="json")
    assert response.status_code == 200
    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.RESOLVED


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": None}, {"reason": "a\x00b"}])
def test_resolving_needs_a_reason(api, bob, incident, body):
    response = api(bob).post(url(incident, "resolve/"), body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["reason"]
    incident.refresh_from_db()
    assert (incident.status, incident.events.count()) == (IncidentStatus.OPEN, 1)


def test_a_note_with_a_nul_byte_is_refused(api, bob, incident):
    response = api(bob).post(url(incident, "acknowledge/"), {"note": "a\x00b"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["note"]
    assert Incident.objects.get().status == IncidentStatus.OPEN


def test_acting_in_the_wrong_state_names_the_status(api, bob, incident):
    client = api(bob)
    assert client.post(url(incident, "acknowledge/")).status_code == 200
    twice = client.post(url(incident, "acknowledge/"))
    assert twice.status_code == 400
    assert list(twice.json()) == ["status"]
    assert client.post(url(incident, "resolve/"), {"reason": "Fixed."}, format="json").status_code == 200
    again = client.post(url(incident, "resolve/"), {"reason": "Fixed again."}, format="json")
    assert again.status_code == 400
    assert list(again.json()) == ["status"]
    late = client.post(url(incident, "acknowledge/"))
    assert (late.status_code, list(late.json())) == (400, ["status"])
    assert Incident.objects.get().resolution == "Fixed."


def test_outsiders_cannot_act_on_incidents(api, charlie, incident, draft):
    hidden = failing(draft)
    client = api(charlie)
    assert client.post(url(incident, "acknowledge/")).status_code == 403
    assert client.post(url(incident, "resolve/"), {"reason": "Mine now."}, format="json").status_code == 403
    assert client.post(url(hidden, "acknowledge/")).status_code == 404
    assert client.post(url(hidden, "resolve/"), {"reason": "Mine now."}, format="json").status_code == 404
    # Refused before the body is read: no hint about what a valid request would be.
    assert client.post(url(incident, "resolve/"), {}, format="json").status_code == 403
    assert set(Incident.objects.values_list("status", flat=True)) == {IncidentStatus.OPEN}


def test_admins_resolve_any_incident(api, admin_user, draft):
    hidden = failing(draft)
    response = api(admin_user).post(url(hidden, "resolve/"), {"reason": "Closed by an admin."}, format="json")
    assert response.status_code == 200
    assert response.json()["resolved_by"] == "admin"


def test_an_slo_incident_names_its_slo(api, alice, product):
    slo = factories.SLOFactory(product=product, objective_percent=90, window_days=1)
    check = factories.CheckFactory(output=factories.OutputFactory(product=product), severity=Severity.WARN)
    check.slos.add(slo)
    run_and_follow(check, RunStatus.WARN)
    slo_module.evaluate(slo, NOW)  # breached at the time of the run
    [answer] = api(alice).get(LIST).json()["results"]
    assert (answer["slo"], answer["check"], answer["title"]) == (slo.pk, None, f"SLO breached: {slo.name}")
    detail = api(alice).get(f"{LIST}{answer['id']}/").json()
    assert detail["events"][0]["evaluation"] is not None
