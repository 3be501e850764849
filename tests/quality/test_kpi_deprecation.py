"""Deprecating a KPI: it stops being computed, leaves the dashboards, and its consumers are told."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from products.models import Dashboard
from quality import dashboards, kpi_tasks, kpis
from tests import factories
from tests.quality.kpi_data import make_kpi


@pytest.fixture
def revenue(events):
    kpi = make_kpi(events, aggregation="sum", column="amount", grain="month")
    kpis.compute(kpi)
    return kpi


@pytest.fixture
def consumers(product, events):
    """A consumer team's member, a member without an email, and the owner of a product reading the events."""
    team = factories.TeamFactory(name="Sales operations", slug="sales-ops")
    reader = factories.UserFactory(username="erin", email="erin@example.com")
    silent = factories.UserFactory(username="finn", email="")
    team.members.add(reader, silent)
    product.consumer_teams.add(team)
    downstream_owner = factories.UserFactory(username="gita", email="gita@example.com")
    downstream = factories.DataProductFactory(owner=downstream_owner)
    factories.ProductInputFactory(product=downstream, source_output=events)
    return reader, downstream_owner


def deprecate(kpi, capture) -> None:
    with capture(execute=True):
        kpi.status = "deprecated"
        kpi.save()


def test_the_consumers_are_told_once_each(revenue, consumers, mailoutbox, django_capture_on_commit_callbacks):
    deprecate(revenue, django_capture_on_commit_callbacks)
    assert sorted(address for mail in mailoutbox for address in mail.to) == ["erin@example.com", "gita@example.com"]
    mail = mailoutbox[0]
    assert mail.subject == f"KPI deprecated: {revenue.name} (Cross-sell)"
    assert "no longer shown on the product's dashboards" in mail.body


def test_a_second_save_of_a_deprecated_kpi_tells_no_one(
    revenue, consumers, mailoutbox, django_capture_on_commit_callbacks
):
    deprecate(revenue, django_capture_on_commit_callbacks)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        revenue.definition = "Still deprecated."
        revenue.save()
    assert mailoutbox == []


def test_a_rolled_back_deprecation_tells_no_one(revenue, consumers, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        revenue.status = "deprecated"
        revenue.save()
    assert queued and mailoutbox == []  # the emails wait for a commit that never comes


def test_a_deprecated_kpi_is_not_due_and_leaves_the_dashboards(revenue, product, alice):
    other = make_kpi(revenue.output, aggregation="count", column="", grain="month")
    kpis.compute(other)
    board = Dashboard.objects.create(
        product=product,
        name="Board",
        tiles=[{"show": "card", "kpi": revenue.name}, {"show": "card", "kpi": other.name}],
    )
    revenue.status = "deprecated"
    revenue.save()
    tiles = dashboards.build(board, alice, dashboards.Window(date(2024, 1, 1), date(2024, 3, 31)), {})
    assert [tile.kpi for tile in tiles] == [other]
    assert tiles[0].value == 8
    # Both are on the default schedule (minute 20); only the active one is due.
    assert kpi_tasks.due_kpis(datetime(2024, 1, 1, 3, 20, tzinfo=UTC)) == {other.output_id: [other.pk]}


def test_the_dashboard_page_leaves_a_deprecated_kpis_tile_out(client, revenue, product, alice):
    other = make_kpi(revenue.output, aggregation="count", column="", grain="month")
    kpis.compute(other)
    board = Dashboard.objects.create(
        product=product,
        name="Board",
        tiles=[
            {"show": "card", "kpi": revenue.name, "title": "Old revenue"},
            {"show": "card", "kpi": other.name, "title": "Events", "window": "latest"},
        ],
    )
    revenue.status = "deprecated"
    revenue.save()
    client.force_login(alice)
    page = client.get(board.get_absolute_url(), {"from": "2024-01-01", "to": "2024-03-31"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Old revenue" not in html and "Events" in html
