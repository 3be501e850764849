"""Incidents: one active per check or SLO, failures attach, stewards acknowledge and resolve."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404

from quality import incidents
from quality import slo as slo_module
from quality.choices import IncidentEventKind, IncidentStatus, RunStatus, Severity, SLOState
from quality.models import Incident, Notification
from tests import factories
from tests.quality.outcomes import NOW, finished_run, run_and_follow

pytestmark = pytest.mark.django_db


@pytest.fixture
def check(product):
    return factories.CheckFactory(output=factories.OutputFactory(product=product), name="rows present")


def events(incident) -> list[str]:
    return list(incident.events.values_list("kind", flat=True))


def test_a_failing_fail_check_opens_one_incident_and_repeats_attach(check):
    first = run_and_follow(check, RunStatus.FAIL, 3)
    run_and_follow(check, RunStatus.FAIL, 2)
    run_and_follow(check, RunStatus.FAIL, 1)
    incident = Incident.objects.get()
    assert incident.status == IncidentStatus.OPEN
    assert incident.occurrences == 3
    assert incident.product == check.product
    assert events(incident) == [IncidentEventKind.OPENED] + [IncidentEventKind.FAILED_AGAIN] * 2
    assert incident.events.first().run == first


def test_warn_severity_and_errors_open_nothing(product):
    output = factories.OutputFactory(product=product)
    warn = factories.CheckFactory(output=output, severity=Severity.WARN)
    run_and_follow(warn, RunStatus.WARN)
    run_and_follow(factories.CheckFactory(output=output), RunStatus.ERROR)
    assert not Incident.objects.exists()


def test_the_database_refuses_a_second_active_incident(check):
    run_and_follow(check, RunStatus.FAIL)
    with pytest.raises(IntegrityError), transaction.atomic():
        Incident.objects.create(product=check.product, quality_check=check, title="twin")


def test_an_incident_names_exactly_one_subject(check, product):
    with pytest.raises(IntegrityError), transaction.atomic():
        Incident.objects.create(product=product, title="nothing")
    slo = factories.SLOFactory(product=product)
    with pytest.raises(IntegrityError), transaction.atomic():
        Incident.objects.create(product=product, quality_check=check, slo=slo, title="both")


def test_opening_alerts_owner_and_steward_once(check, alice, bob):
    run_and_follow(check, RunStatus.FAIL, 2)
    run_and_follow(check, RunStatus.FAIL, 1)
    opened = Notification.objects.filter(event="incident_opened")
    assert sorted(opened.values_list("recipient", flat=True)) == sorted([alice.email, bob.email])


def test_steward_acknowledges_then_resolves_with_a_reason(check, bob):
    run_and_follow(check, RunStatus.FAIL)
    incident = Incident.objects.get()
    incidents.acknowledge(incident, bob, "Looking at the loader.")
    incident.refresh_from_db()
    assert (incident.status, incident.acknowledged_by) == (IncidentStatus.ACKNOWLEDGED, bob)
    incidents.resolve(incident, bob, "Reloaded the file.")
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    assert (incident.resolution, incident.resolved_by) == ("Reloaded the file.", bob)
    assert events(incident)[-2:] == [IncidentEventKind.ACKNOWLEDGED, IncidentEventKind.RESOLVED]
    assert Notification.objects.filter(event="incident_resolved").exists()


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_resolving_needs_a_reason_and_changes_nothing(check, bob, reason):
    run_and_follow(check, RunStatus.FAIL)
    incident = Incident.objects.get()
    with pytest.raises(ValidationError) as raised:
        incidents.resolve(incident, bob, reason)
    assert "resolution" in raised.value.message_dict
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.OPEN


def test_acknowledging_twice_or_after_resolving_is_refused(check, bob):
    run_and_follow(check, RunStatus.FAIL)
    incident = Incident.objects.get()
    incidents.acknowledge(incident, bob)
    with pytest.raises(ValidationError):
        incidents.acknowledge(incident, bob)
    incidents.resolve(incident, bob, "Fixed.")
    with pytest.raises(ValidationError):
        incidents.resolve(incident, bob, "Fixed again.")


def test_outsiders_cannot_touch_an_incident(check, charlie, admin_user):
    run_and_follow(check, RunStatus.FAIL)
    incident = Incident.objects.get()
    # Published product: charlie sees it but may not change it.
    with pytest.raises(PermissionDenied):
        incidents.acknowledge(incident, charlie)
    incidents.resolve(incident, admin_user, "Admin closed it.")


def test_outsiders_do_not_even_see_a_draft_products_incident(draft, charlie):
    check = factories.CheckFactory(output=factories.OutputFactory(product=draft))
    run_and_follow(check, RunStatus.FAIL)
    with pytest.raises(Http404):
        incidents.resolve(Incident.objects.get(), charlie, "No.")


def test_a_failure_after_resolving_opens_a_new_incident(check, bob):
    run_and_follow(check, RunStatus.FAIL, 2)
    incidents.resolve(Incident.objects.get(), bob, "Fixed.")
    run_and_follow(check, RunStatus.FAIL, 1)
    assert list(Incident.objects.order_by("id").values_list("status", flat=True)) == [
        IncidentStatus.RESOLVED,
        IncidentStatus.OPEN,
    ]


def test_a_pass_resolves_only_when_the_product_says_so(check):
    run_and_follow(check, RunStatus.FAIL, 2)
    run_and_follow(check, RunStatus.PASS, 1)
    assert Incident.objects.get().status == IncidentStatus.OPEN
    check.product.auto_resolve_incidents = True
    check.product.save()
    run_and_follow(check, RunStatus.PASS, 0)
    incident = Incident.objects.get()
    assert incident.status == IncidentStatus.RESOLVED
    assert incident.resolved_by is None
    assert events(incident)[-1] == IncidentEventKind.AUTO_RESOLVED


def test_a_breached_slo_opens_an_incident_and_meeting_again_may_resolve_it(product):
    product.auto_resolve_incidents = True
    product.save()
    output = factories.OutputFactory(product=product)
    slo = factories.SLOFactory(product=product, objective_percent=90, window_days=1)
    check = factories.CheckFactory(output=output, severity=Severity.WARN)
    check.slos.add(slo)
    finished_run(check, RunStatus.WARN, 5)
    assert slo_module.evaluate(slo, NOW).state == SLOState.BREACHED
    incident = Incident.objects.get(slo=slo)
    assert incident.status == IncidentStatus.OPEN
    for quarter in range(1, 20):  # 19 good of 20: 95 %
        finished_run(check, RunStatus.PASS, quarter / 4)
    assert slo_module.evaluate(slo, NOW).state == SLOState.MET
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED


def test_slo_state_changes_alert_but_an_unchanged_state_does_not(product, alice):
    output = factories.OutputFactory(product=product)
    slo = factories.SLOFactory(product=product, objective_percent=90, window_days=7)
    check = factories.CheckFactory(output=output, severity=Severity.WARN)
    check.slos.add(slo)
    for hours in range(30, 40):
        finished_run(check, RunStatus.PASS, hours)
    slo_module.evaluate(slo, NOW - timedelta(hours=2))  # baseline: met
    slo_module.evaluate(slo, NOW - timedelta(hours=1))  # still met: no alert
    assert not Notification.objects.exists()
    finished_run(check, RunStatus.WARN, 0.5)  # 10 of 11 good: met, but 9 % of the budget left
    assert slo_module.evaluate(slo, NOW).state == SLOState.AT_RISK
    changed = Notification.objects.get(event="slo_state_changed", recipient=alice.email)
    assert "met → at_risk" in changed.subject


def test_a_breach_alerts_once_as_an_incident(product, alice, bob):
    output = factories.OutputFactory(product=product)
    slo = factories.SLOFactory(product=product, objective_percent=50, window_days=1)
    check = factories.CheckFactory(output=output, severity=Severity.WARN)
    check.slos.add(slo)
    finished_run(check, RunStatus.PASS, 3)
    slo_module.evaluate(slo, NOW - timedelta(hours=2))
    for hours in (0.5, 0.4):
        finished_run(check, RunStatus.WARN, hours)
    assert slo_module.evaluate(slo, NOW).state == SLOState.BREACHED  # 1 good of 3
    assert sorted(Notification.objects.values_list("event", "recipient")) == [
        ("incident_opened", alice.email),
        ("incident_opened", bob.email),
    ]


def test_the_alert_links_to_the_incident_page(check, settings):
    settings.LODESTAR_BASE_URL = "https://hub.example.com"
    run_and_follow(check, RunStatus.FAIL)
    incident = Incident.objects.get()
    payload = Notification.objects.filter(event="incident_opened").first().payload
    assert (
        payload["incident"]["url"] == f"https://hub.example.com/products/{check.product.slug}/incidents/{incident.pk}/"
    )
