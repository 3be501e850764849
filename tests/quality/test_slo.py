"""SLO figures from run history: known answers, and never a made-up number."""

from datetime import timedelta

import pytest
from django.utils import timezone

from quality import slo as slo_module
from quality.choices import RunStatus, SLOState
from tests import factories
from tests.quality.outcomes import NOW, finished_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def measured(product):
    """An SLO of 90 % over 7 days, measured by two checks of one output."""
    output = factories.OutputFactory(product=product)
    slo = factories.SLOFactory(product=product, objective_percent=90, window_days=7)
    checks = [factories.CheckFactory(output=output, name=name) for name in ("rows", "fresh")]
    for check in checks:
        check.slos.add(slo)
    return slo, checks


def test_no_runs_is_unknown_with_no_figures(measured):
    slo, _ = measured
    evaluation = slo_module.measure(slo, NOW)
    assert evaluation.state == SLOState.UNKNOWN
    assert (evaluation.compliance_percent, evaluation.budget_remaining_percent, evaluation.burn_rate) == (None,) * 3


def test_only_errors_is_unknown_but_counts_them(measured):
    slo, (rows, _) = measured
    for hours in (1, 2, 3):
        finished_run(rows, RunStatus.ERROR, hours)
    evaluation = slo_module.measure(slo, NOW)
    assert evaluation.state == SLOState.UNKNOWN
    assert evaluation.errors == 3
    assert evaluation.compliance_percent is None


def test_known_answer_met(measured):
    """19 good, 1 bad in the window: 95 % against 90 %; half the budget (10 %) spent."""
    slo, (rows, fresh) = measured
    for hours in range(30, 49):  # all outside the last 24 hours
        finished_run(rows, RunStatus.PASS, hours)
    finished_run(fresh, RunStatus.FAIL, 60)
    evaluation = slo_module.measure(slo, NOW)
    assert (evaluation.good, evaluation.bad) == (19, 1)
    assert evaluation.compliance_percent == pytest.approx(95.0)
    assert evaluation.budget_remaining_percent == pytest.approx(50.0)
    assert evaluation.burn_rate is None  # nothing measured in the last 24 hours
    assert evaluation.state == SLOState.MET


def test_warn_counts_as_bad_and_error_is_not_a_measurement(measured):
    slo, (rows, _) = measured
    for hours in range(30, 38):
        finished_run(rows, RunStatus.PASS, hours)
    finished_run(rows, RunStatus.WARN, 40)
    finished_run(rows, RunStatus.ERROR, 41)
    evaluation = slo_module.measure(slo, NOW)
    assert (evaluation.good, evaluation.bad, evaluation.errors) == (8, 1, 1)
    assert evaluation.compliance_percent == pytest.approx(100 * 8 / 9, abs=1e-3)


def test_runs_outside_the_window_do_not_count(measured):
    slo, (rows, _) = measured
    finished_run(rows, RunStatus.FAIL, 24 * 7 + 1)  # just outside 7 days
    finished_run(rows, RunStatus.PASS, 1)
    evaluation = slo_module.measure(slo, NOW)
    assert (evaluation.good, evaluation.bad) == (1, 0)
    assert evaluation.compliance_percent == 100.0


def test_breached_below_objective(measured):
    slo, (rows, _) = measured
    for hours in range(30, 38):
        finished_run(rows, RunStatus.PASS, hours)
    for hours in (50, 51):
        finished_run(rows, RunStatus.FAIL, hours)
    evaluation = slo_module.measure(slo, NOW)
    assert evaluation.compliance_percent == pytest.approx(80.0)
    assert evaluation.budget_remaining_percent == pytest.approx(-100.0)  # spent twice over
    assert evaluation.state == SLOState.BREACHED


def test_fast_burn_is_at_risk_while_still_met(measured):
    """Met over the window (95 %), but all of the last day's measurements bad: burn 3/3 / 10 % = 10."""
    slo, (rows, _) = measured
    for hours in range(30, 87):
        finished_run(rows, RunStatus.PASS, hours)
    for hours in (1, 2, 3):
        finished_run(rows, RunStatus.FAIL, hours)
    evaluation = slo_module.measure(slo, NOW)
    assert evaluation.compliance_percent == pytest.approx(95.0)
    assert evaluation.burn_rate == pytest.approx(10.0)
    assert evaluation.state == SLOState.AT_RISK


def test_low_budget_is_at_risk(measured):
    """91 good, 9 bad: 91 % against 90 %, 10 % of the budget left."""
    slo, (rows, _) = measured
    for hours in range(30, 121):
        finished_run(rows, RunStatus.PASS, hours)
    for hours in range(130, 139):
        finished_run(rows, RunStatus.FAIL, hours)
    evaluation = slo_module.measure(slo, NOW)
    assert evaluation.budget_remaining_percent == pytest.approx(10.0)
    assert evaluation.state == SLOState.AT_RISK


def test_objective_of_100_has_no_budget_to_spend(product):
    output = factories.OutputFactory(product=product)
    slo = factories.SLOFactory(product=product, objective_percent=100, window_days=1)
    check = factories.CheckFactory(output=output)
    check.slos.add(slo)
    finished_run(check, RunStatus.PASS, 1)
    evaluation = slo_module.measure(slo, NOW)
    assert evaluation.state == SLOState.MET
    assert evaluation.budget_remaining_percent is None
    finished_run(check, RunStatus.FAIL, 2)
    assert slo_module.measure(slo, NOW).state == SLOState.BREACHED


def test_evaluate_keeps_history(measured):
    slo, (rows, _) = measured
    slo_module.evaluate(slo, NOW - timedelta(hours=1))
    finished_run(rows, RunStatus.PASS, 0)
    slo_module.evaluate(slo, NOW)
    states = list(slo.evaluations.order_by("evaluated_at").values_list("state", flat=True))
    assert states == [SLOState.UNKNOWN, SLOState.MET]


def test_checks_of_another_slo_do_not_count(measured, product):
    slo, _ = measured
    other = factories.CheckFactory(output=factories.OutputFactory(product=product))
    finished_run(other, RunStatus.FAIL, 1)
    assert slo_module.measure(slo, NOW).state == SLOState.UNKNOWN


def test_an_unreachable_source_makes_runs_errors_and_the_slo_unknown_not_breached(product):
    from quality.models import Incident
    from quality.tasks import run_output_checks

    output = factories.OutputFactory(product=product, name="gone", path="gone/nothing.parquet")
    slo = factories.SLOFactory(product=product, objective_percent=99)
    check = factories.CheckFactory(output=output, check_type="row_count")
    check.slos.add(slo)
    # apply() runs the task and its retries in place; the source stays missing, so the run is an error.
    assert run_output_checks.apply(args=(output.pk, "2026-11-20T12:00:00+00:00")).get() == {"error": 1}
    evaluation = slo.evaluations.get()
    assert (evaluation.state, evaluation.errors, evaluation.compliance_percent) == (SLOState.UNKNOWN, 1, None)
    assert not Incident.objects.exists()
    assert product.health.state == "warning"


def test_history_thins_with_age_keeping_the_last_of_each_hour_then_of_each_day(measured):
    from quality.models import SLOEvaluation

    slo, _ = measured

    def evaluated(at):
        return SLOEvaluation.objects.create(slo=slo, evaluated_at=at, window_start=at - timedelta(days=7))

    recent = [evaluated(NOW - timedelta(days=1, minutes=minutes)) for minutes in (0, 15, 30)]  # all kept
    hour = NOW - timedelta(days=10)
    last_of_hour = evaluated(hour.replace(minute=45))
    evaluated(hour.replace(minute=30))
    evaluated(hour.replace(minute=0))
    other_hour = evaluated(hour.replace(minute=0) - timedelta(hours=1))
    day = (NOW - timedelta(days=120)).replace(hour=0, minute=0)
    last_of_day = evaluated(day + timedelta(hours=23))
    evaluated(day + timedelta(hours=5))

    assert slo_module.thin_history(slo, NOW) == 3
    assert set(slo.evaluations.all()) == {*recent, last_of_hour, other_hour, last_of_day}
    assert slo_module.thin_history(slo, NOW) == 0  # thinning again changes nothing


def test_the_beat_prunes_history_daily(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["prune-slo-history"]
    assert entry["task"] == slo_module.prune_slo_history.name


def test_the_periodic_evaluation_measures_every_measured_slo_and_refreshes_health(measured, product):
    from quality.models import ProductHealth

    slo, (rows, _) = measured
    second = factories.SLOFactory(product=product, name="second")
    rows.slos.add(second)
    unmeasured = factories.SLOFactory(product=product, name="unmeasured")
    finished_run(rows, RunStatus.PASS, 0, now=timezone.now())
    assert slo_module.evaluate_all_slos() == 2
    assert slo.evaluations.get().state == SLOState.MET
    assert second.evaluations.get().state == SLOState.MET
    assert not unmeasured.evaluations.exists()
    assert ProductHealth.objects.get(product=product).state == "healthy"
