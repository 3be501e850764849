"""The Quality panel on the product page: statuses, history, SLO gauges, incidents, run now; constant queries."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from quality import incidents, panels
from quality.choices import RunStatus, Severity
from quality.models import CheckRun, SLOEvaluation
from tests import factories
from tests.quality.outcomes import run_and_follow

pytestmark = pytest.mark.django_db


def has_badge(html: str, tone: str, label: str) -> bool:
    return re.search(rf'class="badge badge--{tone}"[^>]*>{label}<', html) is not None


def panel_html(client, product) -> str:
    response = client.get(product.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    start = html.index('<section class="panel q-panel" id="quality"')
    return html[start : html.index("</section>", start)]


@pytest.fixture
def orders(product):
    return factories.OutputFactory(product=product, name="orders")


@pytest.fixture
def slo(product):
    return factories.SLOFactory(product=product, name="Orders complete", objective_percent=90, window_days=28)


def runs_now(check, statuses: list[str]) -> list[CheckRun]:
    """Finished runs an hour apart, the last one now, each followed by its outcomes."""
    now = timezone.now().replace(microsecond=0)
    return [run_and_follow(check, status, len(statuses) - 1 - i, now) for i, status in enumerate(statuses)]


class TestChecks:
    def test_it_shows_each_checks_last_result_and_history(self, client, charlie, orders):
        check = factories.CheckFactory(output=orders, name="rows present")
        runs = runs_now(check, [RunStatus.PASS, RunStatus.WARN, RunStatus.FAIL])
        client.force_login(charlie)
        html = panel_html(client, orders.product)
        assert "rows present" in html
        assert "Row count" in html and "&gt; 0" in html
        assert has_badge(html, "danger", "Fail")
        cells = re.findall(r'<a class="q-cell q-cell--(\w+)" href="([^"]+)" title="([^"]+)" aria-label="([^"]+)"', html)
        assert [cell[0] for cell in cells] == ["pass", "warn", "fail"]  # oldest first
        assert cells[-1][1] == reverse("quality:run", args=[orders.product.slug, runs[-1].pk])
        assert cells[-1][3].startswith("Fail, ") and "observed 1" in cells[-1][3]

    def test_a_check_never_run_says_so_and_a_pending_one_is_pending(self, client, bob, orders):
        factories.CheckFactory(output=orders, name="never")
        waiting = factories.CheckFactory(output=orders, name="waiting")
        CheckRun.objects.create(quality_check=waiting, scheduled_for=timezone.now())
        client.force_login(bob)
        html = panel_html(client, orders.product)
        assert "Never run" in html
        assert has_badge(html, "info", "Pending")
        assert html.count('q-cell q-cell--pending" href') == 1

    def test_an_error_is_not_a_failure(self, client, bob, orders):
        runs_now(factories.CheckFactory(output=orders, name="unreadable"), [RunStatus.ERROR])
        client.force_login(bob)
        html = panel_html(client, orders.product)
        assert has_badge(html, "error", "Error")
        assert "badge--danger" not in html

    def test_the_history_keeps_the_last_30_runs(self, client, bob, orders):
        check = factories.CheckFactory(output=orders)
        now = timezone.now()
        CheckRun.objects.bulk_create(
            CheckRun(quality_check=check, scheduled_for=now - timedelta(hours=i), status=RunStatus.PASS)
            for i in range(35)
        )
        client.force_login(bob)
        assert panel_html(client, orders.product).count('q-cell q-cell--pass" href') == panels.HISTORY

    def test_stewards_get_run_now_and_edit_links_and_outsiders_do_not(self, client, bob, charlie, orders):
        factories.CheckFactory(output=orders)
        run_now = reverse("quality:run-now", args=[orders.product.slug, orders.pk])
        checks = reverse("quality:checks", args=[orders.product.slug, orders.pk])
        client.force_login(bob)
        html = panel_html(client, orders.product)
        assert f'action="{run_now}"' in html and "csrfmiddlewaretoken" in html
        assert checks in html
        client.force_login(charlie)
        html = panel_html(client, orders.product)
        assert run_now not in html and checks not in html

    def test_run_now_is_not_offered_without_an_enabled_check(self, client, bob, orders):
        factories.CheckFactory(output=orders, enabled=False)
        client.force_login(bob)
        assert reverse("quality:run-now", args=[orders.product.slug, orders.pk]) not in panel_html(
            client, orders.product
        )

    def test_it_hides_a_drafts_panel_from_outsiders(self, client, charlie, draft):
        factories.CheckFactory(output=factories.OutputFactory(product=draft))
        client.force_login(charlie)
        assert client.get(draft.get_absolute_url()).status_code == 404


class TestSLOGauges:
    def test_it_shows_compliance_budget_burn_rate_and_state(self, client, charlie, orders, slo):
        check = factories.CheckFactory(output=orders, severity=Severity.WARN)
        check.slos.add(slo)
        runs_now(check, [RunStatus.PASS] * 9 + [RunStatus.WARN])
        client.force_login(charlie)
        html = panel_html(client, orders.product)
        gauge = html[html.index('aria-label="SLO Orders complete') :]
        assert "90 %" in gauge  # compliance: 9 good of 10
        assert "objective 90 % over 28 days" in gauge
        assert "Error budget left" in gauge and "0 %" in gauge  # the one bad run spent it all
        assert "At risk" in gauge[:600]  # within the objective, but no budget left
        assert 'class="q-trend"' in gauge

    def test_an_slo_without_measurements_is_unknown_with_no_data_never_a_number(self, client, charlie, orders, slo):
        client.force_login(charlie)
        html = panel_html(client, orders.product)
        gauge = html[html.index('aria-label="SLO Orders complete') :]
        gauge = gauge[: gauge.index("</article>")]
        assert "Unknown" in gauge and "No data" in gauge
        assert not re.search(r"\d+(\.\d+)? %</strong>", gauge)
        assert "q-bar__fill" not in gauge
        assert "q-trend" not in gauge

    def test_an_evaluation_with_only_errors_stays_unknown(self, client, charlie, orders, slo):
        SLOEvaluation.objects.create(
            slo=slo, evaluated_at=timezone.now(), window_start=timezone.now() - timedelta(days=28), errors=3
        )
        client.force_login(charlie)
        html = panel_html(client, orders.product)
        gauge = html[html.index('aria-label="SLO Orders complete') :]
        assert "No data" in gauge[: gauge.index("</article>")]

    def test_the_trend_follows_the_last_evaluations(self):
        line = panels.spark([99.0, 98.0, 100.0], objective=99.0)
        points = [tuple(map(float, point.split(","))) for point in line.points.split()]
        assert len(points) == 3
        assert points[0][0] < points[1][0] < points[2][0]
        assert points[2][1] < points[0][1] < points[1][1]  # higher compliance draws higher (smaller y)
        assert line.objective_y == points[0][1]
        assert panels.spark([]) is None


class TestIncidents:
    def test_open_incidents_are_listed_with_links(self, client, charlie, orders):
        check = factories.CheckFactory(output=orders, name="ids unique")
        runs_now(check, [RunStatus.FAIL])
        incident = orders.product.incidents.get()
        client.force_login(charlie)
        html = panel_html(client, orders.product)
        assert reverse("quality:incident", args=[orders.product.slug, incident.pk]) in html
        assert "Check failed: ids unique on orders" in html

    def test_resolved_incidents_are_not_listed(self, client, bob, orders):
        check = factories.CheckFactory(output=orders)
        runs_now(check, [RunStatus.FAIL])
        incidents.resolve(orders.product.incidents.get(), bob, "Fixed upstream.")
        client.force_login(bob)
        assert "Open incidents" not in panel_html(client, orders.product)


def add_checks(product, n: int) -> None:
    """n checks with runs, on two outputs, measuring two SLOs, one with an open incident."""
    outputs = [factories.OutputFactory(product=product) for _ in range(2)]
    slos = [factories.SLOFactory(product=product) for _ in range(2)]
    for i in range(n):
        check = factories.CheckFactory(output=outputs[i % 2])
        check.slos.add(slos[i % 2])
        runs_now(check, [RunStatus.PASS, RunStatus.WARN, RunStatus.FAIL][: 1 + i % 3])


def count_queries(client, url: str) -> int:
    client.get(url)  # warm the per-process caches first
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("person", ["bob", "charlie", "admin_user"])
def test_the_panel_takes_the_same_queries_for_1_or_10_checks(client, request, person, alice, bob):
    client.force_login(request.getfixturevalue(person))
    small = factories.DataProductFactory(owner=alice, stewards=[bob])
    large = factories.DataProductFactory(owner=alice, stewards=[bob])
    add_checks(small, 1)
    add_checks(large, 10)
    assert count_queries(client, small.get_absolute_url()) == count_queries(client, large.get_absolute_url())
