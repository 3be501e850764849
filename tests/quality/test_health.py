"""A product's health: the worst of its checks' latest runs, its SLOs and its open incidents."""

import pytest

from quality import health, incidents
from quality.choices import Health, RunStatus, Severity
from quality.models import Incident, ProductHealth
from tests import factories
from tests.quality.outcomes import run_and_follow

pytestmark = pytest.mark.django_db


@pytest.fixture
def output(product):
    return factories.OutputFactory(product=product)


def state(product) -> str:
    return ProductHealth.objects.get(product=product).state


def test_nothing_measured_is_unknown(product, output):
    factories.CheckFactory(output=output)
    assert health.refresh(product.pk).state == Health.UNKNOWN


def test_passing_checks_are_healthy(product, output):
    run_and_follow(factories.CheckFactory(output=output), RunStatus.PASS)
    assert state(product) == Health.HEALTHY


def test_only_the_latest_run_of_a_check_counts(product, output):
    check = factories.CheckFactory(output=output, severity=Severity.WARN)
    run_and_follow(check, RunStatus.WARN, 2)
    assert state(product) == Health.WARNING
    run_and_follow(check, RunStatus.PASS, 1)
    assert state(product) == Health.HEALTHY


def test_an_error_is_a_warning(product, output):
    run_and_follow(factories.CheckFactory(output=output), RunStatus.ERROR)
    assert state(product) == Health.WARNING


def test_a_failure_is_failing_until_the_incident_is_resolved(product, output, bob):
    check = factories.CheckFactory(output=output)
    run_and_follow(check, RunStatus.FAIL, 2)
    figures = ProductHealth.objects.get(product=product)
    assert (figures.state, figures.failing_checks, figures.open_incidents) == (Health.FAILING, 1, 1)
    run_and_follow(check, RunStatus.PASS, 1)  # the check passes, the incident is still open
    assert state(product) == Health.FAILING
    incidents.resolve(Incident.objects.get(), bob, "Reloaded.")
    assert state(product) == Health.HEALTHY


def test_disabled_checks_do_not_count(product, output):
    check = factories.CheckFactory(output=output, severity=Severity.WARN)
    run_and_follow(check, RunStatus.WARN)
    check.enabled = False
    check.save()
    assert health.refresh(product.pk).state == Health.UNKNOWN
