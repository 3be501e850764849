"""The hub's pages take a constant number of queries, however many products or spec parts there are."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests import factories


def count_queries(client, url: str) -> int:
    client.get(url)  # warm the per-process caches (content types, permissions) first
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def add_products(n: int, owner, stewards) -> None:
    tags = [factories.TagFactory(name=f"tag-{i}") for i in range(3)]
    for i in range(n):
        status = "draft" if i % 4 == 0 else "published"
        factories.DataProductFactory(owner=owner, stewards=stewards, tags=tags[: i % 4], status=status)


def add_parts(product, n: int) -> None:
    """n of every kind of spec part on ``product``."""
    upstream = factories.OutputFactory(product=factories.DataProductFactory())
    parent = None
    for i in range(n):
        goal = factories.GoalFactory(product=product)
        initiative = factories.InitiativeFactory(product=product)
        initiative.goals.add(goal)
        hypothesis = factories.HypothesisFactory(product=product, goal=goal, initiative=initiative)
        factories.UseCaseFactory(product=product).hypotheses.add(hypothesis)
        factories.UsagePatternFactory(product=product)
        output = factories.OutputFactory(product=product)
        factories.OutputColumnFactory.create_batch(3, output=output)
        level = ["north_star", "l1", "l2", "l3"][min(i, 3)]
        parent = factories.KPIFactory(product=product, level=level, parent=parent if i else None, output=output)
        factories.SLOFactory(product=product, kpi=parent)
        factories.ProductInputFactory(product=factories.DataProductFactory(), source_output=output)  # downstream
    factories.ProductInputFactory(product=product, source_output=upstream)


@pytest.mark.parametrize("person", ["alice", "charlie", "admin_user"])
def test_the_home_page_takes_the_same_queries_for_2_or_15_products(client, request, person, bob):
    user = request.getfixturevalue(person)
    alice = request.getfixturevalue("alice")
    client.force_login(user)
    home = reverse("catalog:home")

    add_products(2, alice, [bob])
    few = count_queries(client, home)
    add_products(13, alice, [bob])
    many = count_queries(client, home)
    assert few == many


def test_a_filtered_search_takes_the_same_queries(client, alice, bob):
    client.force_login(alice)
    url = reverse("catalog:home") + "?q=product&tag=tag-1&status=published&sort=updated"
    add_products(3, alice, [bob])  # the third has tag-1
    few = count_queries(client, url)
    add_products(12, alice, [bob])
    assert count_queries(client, url) == few


@pytest.mark.parametrize("person", ["alice", "charlie"])
def test_the_product_page_takes_the_same_queries_for_few_or_many_parts(client, request, person, bob):
    alice = request.getfixturevalue("alice")
    client.force_login(request.getfixturevalue(person))
    small = factories.DataProductFactory(owner=alice, stewards=[bob])
    large = factories.DataProductFactory(owner=alice, stewards=[bob])
    add_parts(small, 1)
    add_parts(large, 8)
    large.tags.add(*[factories.TagFactory() for _ in range(5)])
    large.consumer_teams.add(*[factories.TeamFactory() for _ in range(3)])

    few = count_queries(client, small.get_absolute_url())
    many = count_queries(client, large.get_absolute_url())
    assert few == many
