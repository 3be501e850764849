"""The hub-wide health page: products by health, SLOs, failing checks and open incidents, within the policy."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from catalog import views
from quality.choices import Health, IncidentStatus, RunStatus, SLOState
from quality.models import Incident, ProductHealth, SLOEvaluation
from tests import factories
from tests.quality.outcomes import finished_run, run_and_follow

HEALTH = reverse("health")


def evaluate(slo, state: str, compliance: float | None = None, budget: float | None = None, hours_ago: float = 0):
    return SLOEvaluation.objects.create(
        slo=slo,
        evaluated_at=timezone.now() - timedelta(hours=hours_ago),
        window_start=timezone.now() - timedelta(days=slo.window_days),
        state=state,
        compliance_percent=compliance,
        budget_remaining_percent=budget,
    )


def failing_check(product, name: str = "rows", status: str = RunStatus.FAIL, **kwargs):
    """A check on a new output of ``product`` whose latest run has ``status``."""
    check = factories.CheckFactory(output=factories.OutputFactory(product=product), name=name, **kwargs)
    finished_run(check, status, hours_ago=1, now=timezone.now())
    return check


def incident(product, title: str, status: str = IncidentStatus.OPEN, **kwargs) -> Incident:
    check = factories.CheckFactory(output=factories.OutputFactory(product=product))
    return Incident.objects.create(product=product, quality_check=check, title=title, status=status, **kwargs)


@pytest.fixture
def troubled(product, draft):
    """alice's published Cross-sell and her draft Churn, each with a failing check, an incident and SLOs."""
    ProductHealth.objects.create(product=product, state=Health.FAILING)
    ProductHealth.objects.create(product=draft, state=Health.FAILING)
    failing_check(product, "cross-sell rows")
    failing_check(draft, "secret churn rows")
    incident(product, "Check failed: cross-sell rows")
    incident(draft, "Check failed: secret churn rows")
    evaluate(factories.SLOFactory(product=product, name="Fresh by 07:00", objective_percent=99), SLOState.MET, 99.5, 50)
    evaluate(factories.SLOFactory(product=draft, name="Secret freshness"), SLOState.BREACHED, 90, -900)
    return product, draft


def page(client, user, **params):
    client.force_login(user)
    response = client.get(HEALTH, params)
    assert response.status_code == 200
    return response


def test_it_sends_anonymous_visitors_to_the_login_page(client, db):
    response = client.get(HEALTH)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_top_bar_links_to_it(client, charlie):
    client.force_login(charlie)
    assert f'href="{HEALTH}"' in client.get(reverse("catalog:home")).content.decode()
    assert f'href="{HEALTH}" aria-current="page">Health</a>' in client.get(HEALTH).content.decode()


def test_it_counts_visible_products_by_health_worst_first(client, charlie, troubled, alice):
    for state in (Health.WARNING, Health.HEALTHY, Health.UNKNOWN, None):
        product = factories.DataProductFactory(owner=alice)
        if state:
            ProductHealth.objects.create(product=product, state=state)
    summary = page(client, charlie).context["summary"]
    assert [(item.value, item.count) for item in summary] == [
        ("failing", 1),  # not alice's draft
        ("warning", 1),
        ("unknown", 2),  # one without a health row
        ("healthy", 1),
    ]
    assert summary[0].url == "?state=failing"


def test_it_hides_a_drafts_failing_checks_incidents_and_slos_from_outsiders(client, charlie, troubled):
    response = page(client, charlie)
    html = response.content.decode()
    assert [check.name for check in response.context["checks"]] == ["cross-sell rows"]
    assert [i.title for i in response.context["incidents"]] == ["Check failed: cross-sell rows"]
    assert [slo.name for slo in response.context["slos"]] == ["Fresh by 07:00"]
    for secret in ("Churn", "secret churn rows", "Secret freshness"):
        assert secret not in html


@pytest.mark.parametrize("person", ["alice", "bob", "admin_user"])
def test_it_shows_a_drafts_health_to_its_owner_stewards_and_admins(client, request, person, troubled):
    response = page(client, request.getfixturevalue(person))
    assert {check.name for check in response.context["checks"]} == {"cross-sell rows", "secret churn rows"}
    assert len(response.context["incidents"]) == 2
    assert response.context["summary"][0].count == 2


def test_it_lists_slos_worst_first_with_compliance_budget_and_state(client, alice, product):
    met = factories.SLOFactory(product=product, name="Met", objective_percent=99)
    evaluate(met, SLOState.BREACHED, 80, -1900, hours_ago=2)  # an older evaluation: only the latest counts
    evaluate(met, SLOState.MET, 99.5, 50)
    at_risk = factories.SLOFactory(product=product, name="At risk", objective_percent="99.5")
    evaluate(at_risk, SLOState.AT_RISK, 99.6, 20)
    evaluate(factories.SLOFactory(product=product, name="Breached"), SLOState.BREACHED, 97.25, -175)
    factories.SLOFactory(product=product, name="Never measured")
    response = page(client, alice)
    assert [(slo.name, slo.slo_state) for slo in response.context["slos"]] == [
        ("Breached", "breached"),
        ("At risk", "at_risk"),
        ("Never measured", "unknown"),
        ("Met", "met"),
    ]
    assert response.context["slo_counts"] == [("breached", 1), ("at_risk", 1), ("unknown", 1), ("met", 1)]
    html = " ".join(response.content.decode().split())
    assert "<strong>97.25 %</strong>" in html
    assert '<td class="num">99.5 %</td>' in html  # the objective
    assert '<span class="health-overspent">-175 %</span>' in html
    assert "No data</span>" in html  # the unknown SLO's state
    assert html.count('<span class="muted">no data</span>') == 2  # its compliance and budget


def test_it_lists_checks_whose_latest_run_failed_or_errored(client, alice, product):
    now = timezone.now()
    failing_check(product, "fails")
    failing_check(product, "errors", RunStatus.ERROR)
    failing_check(product, "warns", RunStatus.WARN)
    failing_check(product, "disabled", enabled=False)
    recovered = failing_check(product, "recovered")
    finished_run(recovered, RunStatus.PASS, hours_ago=0.5, now=now)
    pending = failing_check(product, "pending next")
    finished_run(pending, RunStatus.PENDING, hours_ago=0, now=now)  # not finished: the failure is still the latest
    checks = page(client, alice).context["checks"]
    assert {(check.name, check.last_status) for check in checks} == {
        ("fails", "fail"),
        ("errors", "error"),
        ("pending next", "fail"),
    }


def test_failing_since_is_the_first_failure_after_the_last_good_run(client, alice, product):
    now = timezone.now()
    check = factories.CheckFactory(output=factories.OutputFactory(product=product), name="streak")
    for hours_ago, status in ((10, RunStatus.FAIL), (8, RunStatus.PASS), (6, RunStatus.ERROR), (4, RunStatus.FAIL)):
        finished_run(check, status, hours_ago=hours_ago, now=now)
    never_passed = factories.CheckFactory(output=check.output, name="never passed")
    for hours_ago in (30, 20):
        finished_run(never_passed, RunStatus.FAIL, hours_ago=hours_ago, now=now)
    since = {check.name: check.failing_since for check in page(client, alice).context["checks"]}
    assert since == {"streak": now - timedelta(hours=6), "never passed": now - timedelta(hours=30)}


def test_a_failing_run_followed_by_the_quality_app_shows_everywhere_on_the_page(client, alice, product):
    check = factories.CheckFactory(output=factories.OutputFactory(product=product, name="orders"), name="row count")
    run_and_follow(check, RunStatus.FAIL, now=timezone.now())
    response = page(client, alice)
    assert response.context["summary"][0].count == 1  # failing
    assert [check.name for check in response.context["checks"]] == ["row count"]
    assert [i.title for i in response.context["incidents"]] == ["Check failed: row count on orders"]
    html = response.content.decode()
    assert "<code>orders</code>" in html
    assert product.get_absolute_url() in html


def test_it_links_to_the_latest_run_and_to_each_incident(client, alice, product):
    check = failing_check(product)
    later = finished_run(check, RunStatus.ERROR, hours_ago=0, now=timezone.now())
    opened = incident(product, "Check failed")
    html = page(client, alice).content.decode()
    assert f'href="{reverse("quality:run", args=[product.slug, later.pk])}"' in html
    assert f'href="{reverse("quality:incident", args=[product.slug, opened.pk])}">Check failed</a>' in html


def test_it_lists_open_and_acknowledged_incidents_newest_first(client, alice, product):
    now = timezone.now()
    incident(product, "Old", opened_at=now - timedelta(days=2), occurrences=7)
    incident(product, "Acknowledged", IncidentStatus.ACKNOWLEDGED, opened_at=now - timedelta(hours=1))
    incident(product, "Resolved", IncidentStatus.RESOLVED, opened_at=now)
    response = page(client, alice)
    assert [i.title for i in response.context["incidents"]] == ["Acknowledged", "Old"]
    html = " ".join(response.content.decode().split())
    assert '<td class="num">7</td>' in html
    assert '<span class="badge badge--warning">Acknowledged</span>' in html


def test_it_filters_by_domain_and_health(client, alice, product):
    sales = factories.DomainFactory(name="Sales", slug="sales")
    orders = factories.DataProductFactory(name="Orders", owner=alice, domain=sales)
    ProductHealth.objects.create(product=orders, state=Health.WARNING)
    failing_check(product, "elsewhere")
    failing_check(orders, "in sales", RunStatus.ERROR)

    in_sales = page(client, alice, domain="sales")
    assert [check.name for check in in_sales.context["checks"]] == ["in sales"]
    assert [(item.value, item.count) for item in in_sales.context["summary"]][1] == ("warning", 1)
    assert ("sales", "Sales") in in_sales.context["domains"]

    unknown = page(client, alice, state="unknown")  # the product without a health row
    assert [check.name for check in unknown.context["checks"]] == ["elsewhere"]
    summary = {item.value: item for item in unknown.context["summary"]}
    assert summary["unknown"].selected and summary["unknown"].url == "?"
    assert summary["warning"].count == 1  # the summary counts every health, like a facet


@pytest.mark.parametrize("params", [{"state": "bogus"}, {"domain": "nowhere"}, {"state": "fail\x00ing"}])
def test_an_unknown_filter_value_matches_nothing_and_can_be_cleared(client, alice, product, params):
    failing_check(product)
    response = page(client, alice, **params)
    assert response.context["checks"] == []
    name, value = next(iter(params.items()))
    options = response.context["states" if name == "state" else "domains"]
    assert options[0] == (value, value)  # shown selected, so the form can clear it
    assert f'href="{HEALTH}">Clear</a>' in response.content.decode()


def test_each_table_shows_its_first_rows_and_says_there_are_more(client, alice, product, monkeypatch):
    monkeypatch.setattr(views, "HEALTH_PAGE_LIMIT", 2)
    for n in range(3):
        failing_check(product, f"check {n}")
        incident(product, f"incident {n}")
        factories.SLOFactory(product=product)
    response = page(client, alice)
    assert len(response.context["checks"]) == len(response.context["incidents"]) == len(response.context["slos"]) == 2
    html = response.content.decode()
    assert "The first 2 failing checks." in html
    assert "The 2 newest open incidents." in html
    assert "The 2 worst of 3 SLOs." in html


def count_queries(client, url: str) -> int:
    client.get(url)  # warm the per-process caches first
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def add_troubled_products(n: int, owner, stewards) -> None:
    """Products with a failing check, an incident, SLOs with and without data; a third of them drafts."""
    for i in range(n):
        status = "draft" if i % 3 == 2 else "published"
        product = factories.DataProductFactory(owner=owner, stewards=stewards, status=status)
        ProductHealth.objects.create(product=product, state=[Health.FAILING, Health.WARNING][i % 2])
        failing_check(product, f"check {i}", [RunStatus.FAIL, RunStatus.ERROR][i % 2])
        incident(product, f"incident {i}")
        evaluate(factories.SLOFactory(product=product), SLOState.BREACHED, 90, -50)
        factories.SLOFactory(product=product)


@pytest.mark.parametrize("person", ["alice", "charlie", "admin_user"])
@pytest.mark.parametrize("query", ["", "?state=failing&domain=domain-0"])
def test_it_takes_the_same_queries_for_1_or_10_products(client, request, person, query, alice, bob):
    client.force_login(request.getfixturevalue(person))
    add_troubled_products(1, alice, [bob])
    few = count_queries(client, HEALTH + query)
    add_troubled_products(9, alice, [bob])
    assert count_queries(client, HEALTH + query) == few
