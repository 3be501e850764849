"""The hub search's health facet and sort, and the health badge on each product card."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from quality.choices import Health
from quality.models import ProductHealth
from tests import factories

HOME = reverse("catalog:home")


def with_health(product, state: str | None):
    """``state`` None: the product has no health row, as before its first check or SLO measurement."""
    if state is not None:
        ProductHealth.objects.create(product=product, state=state)
    return product


@pytest.fixture
def sales(db):
    return factories.DomainFactory(name="Sales", slug="sales")


@pytest.fixture
def marketing(db):
    return factories.DomainFactory(name="Marketing", slug="marketing")


@pytest.fixture
def hub(alice, bob, sales, marketing):
    """Five published products, one per health (two unknown: with and without a row), and alice's failing draft."""
    make = factories.DataProductFactory
    return {
        "orders": with_health(make(name="Orders", domain=sales, owner=bob), Health.FAILING),
        "spend": with_health(make(name="Customer spend", domain=sales, owner=alice), Health.WARNING),
        "sessions": with_health(make(name="Web sessions", domain=marketing, owner=alice), Health.HEALTHY),
        "legacy": with_health(make(name="Legacy cube", domain=marketing, owner=alice), None),
        "quiet": with_health(make(name="Quiet ledger", domain=sales, owner=bob), Health.UNKNOWN),
        "draft": with_health(make(name="Churn", domain=sales, owner=alice, status="draft"), Health.FAILING),
    }


def names(response) -> set[str]:
    return {product.name for product in response.context["products"]}


def facet(response, name: str = "health") -> dict[str, int]:
    found = next(f for f in response.context["facets"] if f.name == name)
    return {value.value: value.count for value in found.values}


def test_it_counts_products_by_health_and_those_without_a_row_as_unknown(client, charlie, hub):
    client.force_login(charlie)
    response = client.get(HOME)
    assert facet(response) == {"healthy": 1, "warning": 1, "failing": 1, "unknown": 2}
    health = next(f for f in response.context["facets"] if f.name == "health")
    assert [value.label for value in health.values] == ["Healthy", "Warning", "Failing", "Unknown"]


def test_it_does_not_count_drafts_the_user_may_not_see(client, alice, charlie, hub):
    client.force_login(charlie)
    assert facet(client.get(HOME))["failing"] == 1
    client.force_login(alice)
    assert facet(client.get(HOME))["failing"] == 2


@pytest.mark.parametrize(
    "state, expected",
    [
        ("failing", {"Orders"}),
        ("warning", {"Customer spend"}),
        ("healthy", {"Web sessions"}),
        ("unknown", {"Legacy cube", "Quiet ledger"}),
    ],
)
def test_it_filters_by_health(client, charlie, hub, state, expected):
    client.force_login(charlie)
    assert names(client.get(HOME, {"health": state})) == expected


def test_health_counts_follow_the_other_facets_and_other_facets_follow_health(client, charlie, hub):
    client.force_login(charlie)
    in_sales = client.get(HOME, {"domain": "sales"})
    assert facet(in_sales) == {"warning": 1, "failing": 1, "unknown": 1}

    failing = client.get(HOME, {"health": "failing"})
    assert facet(failing) == {"healthy": 1, "warning": 1, "failing": 1, "unknown": 2}  # its own facet: every value
    assert facet(failing, "domain") == {"sales": 1}
    assert facet(failing, "owner") == {"bob": 1}

    searched = client.get(HOME, {"q": "ledger"})
    assert facet(searched) == {"unknown": 1}


def test_it_combines_health_with_the_other_facets_and_search(client, charlie, hub):
    client.force_login(charlie)
    assert names(client.get(HOME, {"health": "unknown", "domain": "sales"})) == {"Quiet ledger"}
    assert names(client.get(HOME, {"health": "unknown", "owner": "alice"})) == {"Legacy cube"}
    assert names(client.get(HOME, {"health": "warning", "q": "spend"})) == {"Customer spend"}
    assert names(client.get(HOME, {"health": "healthy", "q": "spend"})) == set()


def test_a_health_link_toggles_and_shows_as_an_active_filter(client, charlie, hub):
    client.force_login(charlie)
    response = client.get(HOME, {"domain": "sales", "health": "failing"})
    health = next(f for f in response.context["facets"] if f.name == "health")
    by_value = {value.value: value for value in health.values}
    assert by_value["failing"].selected
    assert by_value["failing"].url == "?domain=sales"
    assert by_value["warning"].url == "?domain=sales&health=warning"
    assert {"name": "health", "value": "failing", "label": "Failing", "url": "?domain=sales"} in response.context[
        "active_filters"
    ]
    html = response.content.decode()
    assert '<h2 id="facet-health">Health</h2>' in html
    assert '<input type="hidden" name="health" value="failing">' in html  # a new search keeps the filter


@pytest.mark.parametrize("param", ["health", "status"])
def test_an_unknown_value_matches_nothing_and_stays_visible_to_be_cleared_like_other_facets(
    client, charlie, hub, param
):
    client.force_login(charlie)
    response = client.get(HOME, {param: "bogus"})
    assert response.status_code == 200
    assert names(response) == set()
    assert facet(response, param)["bogus"] == 0
    bogus = next(value for f in response.context["facets"] if f.name == param for value in f.values)
    assert (bogus.value, bogus.selected, bogus.url) == ("bogus", True, "?")
    assert "No products match" in response.content.decode()


def test_a_nul_byte_in_health_finds_nothing_without_an_error(client, charlie, hub):
    client.force_login(charlie)
    response = client.get(f"{HOME}?health=fail%00ing")
    assert response.status_code == 200
    assert names(response) == set()


def test_it_sorts_by_health_worst_first_then_by_name(client, charlie, hub, sales):
    with_health(factories.DataProductFactory(name="Accounts", domain=sales), Health.FAILING)
    client.force_login(charlie)
    response = client.get(HOME, {"sort": "health"})
    assert [p.name for p in response.context["products"]] == [
        "Accounts",
        "Orders",
        "Customer spend",
        "Legacy cube",  # no health row: unknown
        "Quiet ledger",
        "Web sessions",
    ]
    assert '<span aria-current="true">Health (worst first)</span>' in response.content.decode()
    assert ("health", "Health (worst first)", "?sort=health") in client.get(HOME).context["sorts"]


def test_an_unknown_sort_falls_back_to_name(client, charlie, hub):
    client.force_login(charlie)
    response = client.get(HOME, {"sort": "bogus"})
    assert response.context["sort"] == "name"


def test_each_card_shows_its_health_in_words(client, charlie, hub):
    client.force_login(charlie)
    html = client.get(HOME).content.decode()
    for label in ("Healthy", "Warning", "Failing"):
        assert f'title="Health: {label}"><span class="sr-only">Health: </span>{label}</span>' in html
    assert html.count('<span class="sr-only">Health: </span>Unknown</span>') == 2


def count_queries(client, url: str) -> int:
    client.get(url)  # warm the per-process caches first
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("person", ["alice", "charlie", "admin_user"])
@pytest.mark.parametrize("query", ["", "?sort=health", "?health=unknown&domain=sales", "?health=failing&q=product"])
def test_the_home_page_takes_the_same_queries_with_health_for_few_or_many_products(
    client, request, person, query, alice, bob, sales
):
    client.force_login(request.getfixturevalue(person))
    states = [Health.FAILING, Health.WARNING, Health.HEALTHY, Health.UNKNOWN, None]

    def add(n: int) -> None:
        tag = factories.TagFactory(name="tagged")
        for i in range(n):
            status = "draft" if i % 4 == 3 else "published"
            product = factories.DataProductFactory(owner=alice, stewards=[bob], status=status, domain=sales, tags=[tag])
            with_health(product, states[i % len(states)])

    add(5)  # every health, so every query of the page runs
    few = count_queries(client, HOME + query)
    add(15)
    assert count_queries(client, HOME + query) == few
