"""The hub's home page: what each person sees, search, facets, sorting and paging."""

import pytest
from django.urls import reverse

from catalog.views import PAGE_SIZE
from tests import factories

HOME = reverse("catalog:home")


@pytest.fixture
def sales(db):
    return factories.DomainFactory(name="Sales", slug="sales")


@pytest.fixture
def marketing(db):
    return factories.DomainFactory(name="Marketing", slug="marketing")


@pytest.fixture
def catalog(alice, bob, charlie, sales, marketing):
    """Four published products across two domains, tags and owners."""
    revenue, web = factories.TagFactory(name="revenue"), factories.TagFactory(name="web")
    return {
        "orders": factories.DataProductFactory(
            slug="orders", name="Orders", domain=sales, owner=bob, summary="Every order.", tags=[revenue]
        ),
        "spend": factories.DataProductFactory(
            slug="spend", name="Customer spend", domain=sales, owner=alice, summary="Spend.", tags=[revenue, web]
        ),
        "sessions": factories.DataProductFactory(
            slug="sessions", name="Web sessions", domain=marketing, owner=charlie, summary="Clicks.", tags=[web]
        ),
        "legacy": factories.DataProductFactory(
            slug="legacy", name="Legacy cube", domain=marketing, owner=alice, status="deprecated"
        ),
    }


def names(response) -> set[str]:
    return {product.name for product in response.context["products"]}


def facet(response, name: str) -> dict[str, int]:
    """The facet's values and counts, by value."""
    found = next(f for f in response.context["facets"] if f.name == name)
    return {value.value: value.count for value in found.values}


def test_it_sends_anonymous_visitors_to_the_login_page(client, db):
    response = client.get(HOME)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_lists_published_products(client, charlie, product):
    client.force_login(charlie)
    response = client.get(HOME)
    assert response.status_code == 200
    assert "Cross-sell" in names(response)
    assert product.get_absolute_url() in response.content.decode()


def test_it_hides_drafts_from_outsiders(client, charlie, product, draft):
    client.force_login(charlie)
    assert names(client.get(HOME)) == {"Cross-sell"}


@pytest.mark.parametrize("person", ["alice", "bob", "admin_user"])
def test_it_shows_drafts_to_their_owner_stewards_and_admins(client, request, person, product, draft):
    client.force_login(request.getfixturevalue(person))
    assert names(client.get(HOME)) == {"Cross-sell", "Churn"}


def test_it_counts_facets_over_visible_products_only(client, charlie, product, draft):
    client.force_login(charlie)
    response = client.get(HOME)
    assert facet(response, "status") == {"published": 1}
    assert facet(response, "owner") == {"alice": 1}


def test_it_searches_names_summaries_and_tags(client, charlie, catalog):
    client.force_login(charlie)
    assert names(client.get(HOME, {"q": "spend"})) == {"Customer spend"}
    assert names(client.get(HOME, {"q": "revenue"})) == {"Orders", "Customer spend"}
    assert names(client.get(HOME, {"q": "web sessions"})) == {"Web sessions"}


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"domain": "sales"}, {"Orders", "Customer spend"}),
        ({"tag": "web"}, {"Customer spend", "Web sessions"}),
        ({"status": "deprecated"}, {"Legacy cube"}),
        ({"owner": "alice"}, {"Customer spend", "Legacy cube"}),
        ({"domain": "sales", "tag": "web"}, {"Customer spend"}),
    ],
)
def test_it_filters_by_each_facet(client, charlie, catalog, params, expected):
    client.force_login(charlie)
    assert names(client.get(HOME, params)) == expected


def test_it_counts_each_facet_over_the_searched_set_and_the_other_facets(client, charlie, catalog):
    client.force_login(charlie)
    response = client.get(HOME)
    assert facet(response, "domain") == {"marketing": 2, "sales": 2}
    assert facet(response, "tag") == {"revenue": 2, "web": 2}
    assert facet(response, "status") == {"published": 3, "deprecated": 1}
    assert facet(response, "owner") == {"alice": 2, "bob": 1, "charlie": 1}

    narrowed = client.get(HOME, {"domain": "sales"})
    assert facet(narrowed, "domain") == {"marketing": 2, "sales": 2}  # its own facet still offers the others
    assert facet(narrowed, "tag") == {"revenue": 2, "web": 1}
    assert facet(narrowed, "owner") == {"alice": 1, "bob": 1}

    searched = client.get(HOME, {"q": "web"})
    assert facet(searched, "domain") == {"marketing": 1, "sales": 1}


def test_facet_links_toggle_their_value_and_keep_the_other_parameters(client, charlie, catalog):
    client.force_login(charlie)
    response = client.get(HOME, {"q": "e", "domain": "sales", "page": "1"})
    domains = next(f for f in response.context["facets"] if f.name == "domain")
    by_value = {value.value: value for value in domains.values}
    assert by_value["sales"].selected
    assert by_value["sales"].url == "?q=e"
    assert by_value["marketing"].url == "?q=e&domain=marketing"
    tags = next(f for f in response.context["facets"] if f.name == "tag")
    assert {value.url for value in tags.values} == {"?q=e&domain=sales&tag=revenue", "?q=e&domain=sales&tag=web"}


def test_a_selected_value_without_products_can_still_be_cleared(client, charlie, catalog):
    client.force_login(charlie)
    response = client.get(HOME, {"tag": "nothing-has-this"})
    assert names(response) == set()
    assert facet(response, "tag")["nothing-has-this"] == 0


def test_it_sorts_by_name_or_recent_update(client, charlie, catalog):
    client.force_login(charlie)
    catalog["orders"].save()  # now the most recently updated
    by_name = [p.name for p in client.get(HOME).context["products"]]
    assert by_name == sorted(by_name)
    recent = [p.name for p in client.get(HOME, {"sort": "updated"}).context["products"]]
    assert recent[0] == "Orders"


def test_it_pages_by_24(client, charlie, sales):
    factories.DataProductFactory.create_batch(PAGE_SIZE + 3, domain=sales)
    client.force_login(charlie)
    first = client.get(HOME)
    assert len(first.context["products"]) == PAGE_SIZE
    second = client.get(HOME, {"page": 2})
    assert len(second.context["products"]) == 3
    assert 'href="?page=2"' in first.content.decode()


def test_it_shows_an_empty_state(client, charlie, catalog):
    client.force_login(charlie)
    response = client.get(HOME, {"q": "zzz-no-such-thing"})
    assert "No products match" in response.content.decode()


def test_it_offers_new_product_to_product_managers_only(client, alice, charlie, db):
    new = reverse("products:create")
    client.force_login(alice)
    assert new in client.get(HOME).content.decode()
    client.force_login(charlie)
    assert new not in client.get(HOME).content.decode()


def test_sign_out_is_a_post_form(client, charlie):
    client.force_login(charlie)
    html = client.get(HOME).content.decode()
    assert f'<form method="post" action="{reverse("logout")}">' in html
    assert "csrfmiddlewaretoken" in html


def test_a_facet_lists_its_most_common_values_only(client, alice, product):
    from catalog.views import FACET_LIMIT

    for n in range(FACET_LIMIT + 5):
        factories.DataProductFactory(owner=alice, tags=[factories.TagFactory(name=f"rare-{n:02d}")])
    common = factories.TagFactory(name="common")
    for _ in range(3):
        factories.DataProductFactory(owner=alice, tags=[common])
    client.force_login(alice)
    tag_facet = next(f for f in client.get("/").context["facets"] if f.name == "tag")
    assert len(tag_facet.values) == FACET_LIMIT
    assert tag_facet.values[0].label == "common"
    assert tag_facet.hidden == 6
    assert "6 less common values not shown" in client.get("/").content.decode()


@pytest.mark.parametrize("param", ["q", "domain", "tag", "owner", "status", "health", "sort", "page"])
def test_a_nul_byte_in_a_parameter_finds_nothing_without_an_error(client, alice, product, param):
    client.force_login(alice)
    assert client.get(f"/?{param}=a%00b").status_code == 200
