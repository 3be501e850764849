"""An incident's page: who may see and handle it; acknowledge with a note, resolve with a reason."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from quality.choices import IncidentEventKind, IncidentStatus, RunStatus
from quality.models import Incident, IncidentEvent
from tests import factories
from tests.quality.outcomes import run_and_follow

pytestmark = pytest.mark.django_db


def incident_of(product) -> Incident:
    check = factories.CheckFactory(output=factories.OutputFactory(product=product, name="orders"), name="ids unique")
    run_and_follow(check, RunStatus.FAIL, 0, timezone.now())
    return Incident.objects.get(product=product)


def url(incident, name: str = "incident") -> str:
    return reverse(f"quality:{name}", args=[incident.product.slug, incident.pk])


def state(incident) -> tuple:
    incident.refresh_from_db()
    return incident.status, incident.resolution, incident.events.count()


class TestWhoMaySee:
    def test_it_hides_a_drafts_incident_from_outsiders(self, client, charlie, draft):
        incident = incident_of(draft)
        client.force_login(charlie)
        assert client.get(url(incident)).status_code == 404
        assert client.post(url(incident, "incident-resolve"), {"resolution": "x"}).status_code == 404
        assert client.post(url(incident, "incident-acknowledge")).status_code == 404
        assert state(incident)[0] == IncidentStatus.OPEN

    def test_outsiders_read_a_published_products_incident_without_the_forms(self, client, charlie, product):
        incident = incident_of(product)
        client.force_login(charlie)
        html = client.get(url(incident)).content.decode()
        assert "Check failed: ids unique on orders" in html
        assert "Opened" in html
        assert url(incident, "incident-resolve") not in html

    def test_outsiders_may_not_handle_a_published_products_incident(self, client, charlie, product):
        incident = incident_of(product)
        before = state(incident)
        client.force_login(charlie)
        assert client.post(url(incident, "incident-resolve"), {"resolution": "Mine now"}).status_code == 403
        assert client.post(url(incident, "incident-acknowledge"), {"note": "x"}).status_code == 403
        assert state(incident) == before

    def test_an_incident_of_another_product_is_not_found_under_this_one(self, client, bob, product):
        other = incident_of(factories.DataProductFactory(slug="other"))
        client.force_login(bob)
        assert client.get(reverse("quality:incident", args=[product.slug, other.pk])).status_code == 404

    def test_the_forms_only_take_posts(self, client, bob, product):
        incident = incident_of(product)
        client.force_login(bob)
        assert client.get(url(incident, "incident-resolve")).status_code == 405


class TestHandling:
    def test_a_steward_acknowledges_with_a_note(self, client, bob, product):
        incident = incident_of(product)
        client.force_login(bob)
        response = client.post(url(incident, "incident-acknowledge"), {"note": "Looking at the loader."}, follow=True)
        assert response.redirect_chain[-1][0] == url(incident)
        incident.refresh_from_db()
        assert incident.status == IncidentStatus.ACKNOWLEDGED
        assert incident.acknowledged_by == bob
        event = incident.events.last()
        assert (event.kind, event.note, event.user) == (IncidentEventKind.ACKNOWLEDGED, "Looking at the loader.", bob)
        html = response.content.decode()
        assert "Acknowledged" in html and "Looking at the loader." in html
        assert url(incident, "incident-acknowledge") not in html  # no second acknowledgement

    def test_the_owner_resolves_with_a_reason(self, client, alice, product):
        incident = incident_of(product)
        client.force_login(alice)
        response = client.post(url(incident, "incident-resolve"), {"resolution": "Deduplicated upstream."}, follow=True)
        assert state(incident) == (IncidentStatus.RESOLVED, "Deduplicated upstream.", 2)
        html = response.content.decode()
        assert "Resolved" in html and "Deduplicated upstream." in html
        assert url(incident, "incident-resolve") not in html

    @pytest.mark.parametrize("reason", ["", "   "])
    def test_an_empty_reason_is_an_error_next_to_the_field_and_changes_nothing(self, client, bob, product, reason):
        incident = incident_of(product)
        before = state(incident)
        client.force_login(bob)
        response = client.post(url(incident, "incident-resolve"), {"resolution": reason})
        assert response.status_code == 200
        html = response.content.decode()
        assert '<p class="field__error" id="id_resolution_error1">Say why the incident is resolved.</p>' in html
        assert "Nothing was changed." in html
        assert state(incident) == before

    def test_resolving_a_resolved_incident_says_so(self, client, bob, product):
        incident = incident_of(product)
        client.force_login(bob)
        client.post(url(incident, "incident-resolve"), {"resolution": "Fixed."})
        # The page no longer offers the form; a stale one posted again is refused without a change.
        response = client.post(url(incident, "incident-resolve"), {"resolution": "Fixed twice."}, follow=True)
        assert "The incident is already resolved." in response.content.decode()
        assert state(incident) == (IncidentStatus.RESOLVED, "Fixed.", 2)

    def test_acknowledging_twice_is_refused_on_the_form(self, client, bob, product):
        incident = incident_of(product)
        client.force_login(bob)
        client.post(url(incident, "incident-acknowledge"), {"note": ""})
        response = client.post(url(incident, "incident-acknowledge"), {"note": "again"}, follow=True)
        assert "The incident is acknowledged, not open." in response.content.decode()
        assert IncidentEvent.objects.filter(kind=IncidentEventKind.ACKNOWLEDGED).count() == 1

    def test_an_slo_incident_names_its_slo(self, client, bob, product):
        slo = factories.SLOFactory(product=product, name="Orders on time", objective_percent=99)
        check = factories.CheckFactory(output=factories.OutputFactory(product=product))
        check.slos.add(slo)
        run_and_follow(check, RunStatus.FAIL, 0, timezone.now())
        incident = Incident.objects.get(slo=slo)
        client.force_login(bob)
        html = client.get(url(incident)).content.decode()
        assert "SLO <strong>Orders on time</strong>" in html
        assert "compliance 0 %" in html


def test_the_timeline_takes_the_same_queries_for_1_or_10_events(client, bob, product):
    check = factories.CheckFactory(output=factories.OutputFactory(product=product))
    run_and_follow(check, RunStatus.FAIL, 0, timezone.now())
    incident = Incident.objects.get()
    client.force_login(bob)

    def queries() -> int:
        client.get(url(incident))
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url(incident)).status_code == 200
        return len(captured)

    few = queries()
    for hours in range(1, 10):
        run_and_follow(check, RunStatus.FAIL, hours, timezone.now())
    client.post(url(incident, "incident-acknowledge"), {"note": "On it."})
    assert incident.events.count() == 11
    assert queries() == few
