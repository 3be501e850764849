"""The products endpoint: who may do what, the list and detail shapes, filters, pages and query counts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from products.models import DataProduct
from tests import factories

LIST = "/api/v1/products/"


def detail(slug: str) -> str:
    return f"{LIST}{slug}/"


def slugs(response) -> list[str]:
    return [item["slug"] for item in response.json()["results"]]


@pytest.fixture
def new_product(db):
    domain = factories.DomainFactory(slug="sales", name="Sales")
    return {"slug": "basket", "name": "Basket analysis", "domain": domain.slug, "summary": "What sells together."}


# --- Who may do what -------------------------------------------------------------------------


def test_it_answers_anonymous_visitors_with_401(api, product):
    response = api(None).get(LIST)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"


def test_it_shows_published_products_to_outsiders(api, charlie, product, draft):
    response = api(charlie).get(LIST)
    assert response.status_code == 200
    assert slugs(response) == ["cross-sell"]
    assert api(charlie).get(detail("cross-sell")).status_code == 200


def test_it_hides_drafts_from_outsiders(api, charlie, draft):
    assert api(charlie).get(detail("churn")).status_code == 404
    assert api(charlie).patch(detail("churn"), {"name": "Mine"}, format="json").status_code == 404
    assert api(charlie).delete(detail("churn")).status_code == 404


def test_outsiders_cannot_change_a_published_product(api, charlie, product):
    assert api(charlie).patch(detail("cross-sell"), {"name": "Mine"}, format="json").status_code == 403
    assert api(charlie).put(detail("cross-sell"), {"name": "Mine"}, format="json").status_code == 403
    assert api(charlie).delete(detail("cross-sell")).status_code == 403
    product.refresh_from_db()
    assert product.name == "Cross-sell"


def test_only_product_managers_create_products(api, charlie, new_product):
    response = api(charlie).post(LIST, new_product, format="json")
    assert response.status_code == 403
    assert not DataProduct.objects.filter(slug="basket").exists()


def test_stewards_edit_but_cannot_delete(api, bob, draft):
    response = api(bob).patch(detail("churn"), {"summary": "Who leaves, and why."}, format="json")
    assert response.status_code == 200
    assert response.json()["summary"] == "Who leaves, and why."
    assert api(bob).delete(detail("churn")).status_code == 403
    assert DataProduct.objects.filter(slug="churn").exists()


def test_the_owner_creates_edits_and_deletes(api, alice, new_product):
    client = api(alice)
    created = client.post(LIST, new_product, format="json")
    assert created.status_code == 201
    assert created.json()["owner"] == "alice"
    assert created.json()["status"] == "draft"
    assert client.patch(detail("basket"), {"status": "published"}, format="json").status_code == 200
    assert client.delete(detail("basket")).status_code == 204
    assert not DataProduct.objects.filter(slug="basket").exists()


def test_a_full_update_replaces_the_writable_fields(api, alice, product):
    tag = factories.TagFactory(name="retail")
    team = factories.TeamFactory(slug="growth")
    body = {"slug": "cross-sell", "name": "Cross-sell 2", "domain": product.domain.slug, "tags": ["retail"]}
    response = api(alice).put(detail("cross-sell"), {**body, "consumer_teams": ["growth"]}, format="json")
    assert response.status_code == 200, response.json()
    product.refresh_from_db()
    assert product.name == "Cross-sell 2"
    assert list(product.tags.all()) == [tag]
    assert list(product.consumer_teams.all()) == [team]
    assert product.owner.username == "alice"


def test_admins_do_everything(api, admin_user, alice, draft, new_product):
    client = api(admin_user)
    assert client.get(detail("churn")).status_code == 200
    created = client.post(LIST, {**new_product, "owner": "alice"}, format="json")
    assert created.status_code == 201
    assert created.json()["owner"] == "alice"
    assert client.patch(detail("churn"), {"owner": "admin"}, format="json").status_code == 200
    assert client.delete(detail("churn")).status_code == 204


def test_only_admins_create_a_product_for_someone_else(api, alice, bob, new_product):
    response = api(alice).post(LIST, {**new_product, "owner": "bob"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"owner": ["Only admins may create a product for someone else."]}
    assert not DataProduct.objects.filter(slug="basket").exists()


def test_stewards_cannot_take_a_product_over(api, bob, product):
    response = api(bob).patch(detail("cross-sell"), {"owner": "bob"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["owner"]
    product.refresh_from_db()
    assert product.owner.username == "alice"


def test_the_owner_hands_a_draft_over_even_if_it_leaves_them_without_access(api, alice, charlie, draft):
    draft.stewards.clear()
    response = api(alice).patch(detail("churn"), {"owner": "charlie"}, format="json")
    assert response.status_code == 200
    assert response.json()["owner"] == "charlie"
    assert api(alice).get(detail("churn")).status_code == 404
    assert api(charlie).delete(detail("churn")).status_code == 204


def test_a_steward_who_would_lose_access_is_refused(api, bob, draft):
    response = api(bob).patch(detail("churn"), {"stewards": []}, format="json")
    assert response.status_code == 403
    assert list(draft.stewards.all()) == [bob]


def test_stewards_and_tags_are_named(api, alice, bob, product):
    factories.TagFactory(name="sales")
    response = api(alice).patch(detail("cross-sell"), {"stewards": ["bob", "alice"], "tags": ["sales"]}, format="json")
    assert response.status_code == 200
    assert response.json()["stewards"] == ["alice", "bob"]
    assert response.json()["tags"] == ["sales"]


def test_tags_must_exist(api, alice, product):
    response = api(alice).patch(detail("cross-sell"), {"tags": ["no-such-tag"]}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["tags"]


def test_a_product_whose_outputs_feed_others_cannot_be_deleted(api, alice, product):
    output = factories.OutputFactory(product=product)
    factories.ProductInputFactory(source_output=output, product=factories.DataProductFactory())
    response = api(alice).delete(detail("cross-sell"))
    assert response.status_code == 409
    assert DataProduct.objects.filter(slug="cross-sell").exists()


# --- Shapes ----------------------------------------------------------------------------------


def test_the_list_shows_what_a_card_needs(api, alice, bob, product):
    product.tags.add(factories.TagFactory(name="sales"))
    product.consumer_teams.add(factories.TeamFactory(slug="growth"))
    item = api(alice).get(LIST).json()["results"][0]
    assert item == {
        "slug": "cross-sell",
        "name": "Cross-sell",
        "domain": product.domain.slug,
        "summary": product.summary,
        "status": "published",
        "version": "0.1.0",
        "tags": ["sales"],
        "owner": "alice",
        "stewards": ["bob"],
        "consumer_teams": ["growth"],
        "url": "http://testserver/api/v1/products/cross-sell/",
        "updated": item["updated"],
    }


def test_the_detail_shows_the_whole_spec(api, alice, product):
    north_star = factories.KPIFactory(product=product, level="north_star", name="Revenue")
    product.north_star = north_star
    product.save()
    goal = factories.GoalFactory(product=product)
    initiative = factories.InitiativeFactory(product=product)
    initiative.goals.add(goal)
    output = factories.OutputFactory(product=product, name="orders")
    factories.OutputColumnFactory(output=output, name="order_id", role="key")
    factories.KPIFactory(product=product, parent=north_star, level="l1")
    downstream = factories.DataProductFactory(slug="reorder")
    factories.ProductInputFactory(product=downstream, source_output=output)
    spec = api(alice).get(detail("cross-sell")).json()
    assert spec["north_star"] == {"id": north_star.pk, "name": "Revenue"}
    assert spec["initiatives"][0]["goals"] == [goal.pk]
    assert spec["outputs"][0]["columns"][0]["name"] == "order_id"
    assert spec["kpis"][1]["parent"] == north_star.pk
    assert spec["downstream"] == ["reorder"]
    upstream = api(alice).get(detail("reorder")).json()
    assert upstream["inputs"][0]["source_output"] == output.pk
    assert upstream["inputs"][0]["source_name"] == "cross-sell.orders"


def test_the_detail_hides_downstream_drafts(api, charlie, product):
    output = factories.OutputFactory(product=product)
    factories.ProductInputFactory(
        product=factories.DataProductFactory(slug="secret", status="draft"), source_output=output
    )
    assert api(charlie).get(detail("cross-sell")).json()["downstream"] == []


# --- Filters and pages -----------------------------------------------------------------------


@pytest.fixture
def catalogue(alice, bob):
    sales = factories.DomainFactory(slug="sales", name="Sales")
    marketing = factories.DomainFactory(slug="marketing", name="Marketing")
    retail = factories.TagFactory(name="retail")
    factories.DataProductFactory(slug="basket", name="Basket", domain=sales, owner=alice, tags=[retail])
    factories.DataProductFactory(slug="campaigns", name="Campaigns", domain=marketing, owner=bob, summary="Reach.")
    factories.DataProductFactory(slug="leads", name="Leads", domain=marketing, owner=alice, status="deprecated")


@pytest.mark.parametrize(
    "query, expected",
    [
        ("search=basket", ["basket"]),
        ("search=marketing reach", ["campaigns"]),
        ("domain=marketing", ["campaigns", "leads"]),
        ("tag=retail", ["basket"]),
        ("status=deprecated", ["leads"]),
        ("owner=bob", ["campaigns"]),
        ("owner=alice&domain=marketing", ["leads"]),
        ("tag=nothing", []),
    ],
)
def test_it_filters_products(api, charlie, catalogue, query, expected):
    response = api(charlie).get(f"{LIST}?{query}")
    assert response.status_code == 200
    assert slugs(response) == expected


def test_an_unknown_status_is_a_400_naming_the_filter(api, charlie, catalogue):
    response = api(charlie).get(f"{LIST}?status=lost")
    assert response.status_code == 400
    assert list(response.json()) == ["status"]


def test_it_pages_the_list(api, charlie, db):
    factories.DataProductFactory.create_batch(5)
    first = api(charlie).get(f"{LIST}?page_size=2").json()
    assert first["count"] == 5
    assert len(first["results"]) == 2
    assert first["previous"] is None
    assert first["next"].endswith("/api/v1/products/?page=2&page_size=2")
    last = api(charlie).get(f"{LIST}?page_size=2&page=3").json()
    assert len(last["results"]) == 1
    assert last["next"] is None
    assert last["previous"] is not None


def test_page_size_is_capped_at_200(api, charlie, db):
    factories.DataProductFactory.create_batch(3)
    assert len(api(charlie).get(f"{LIST}?page_size=100000").json()["results"]) == 3
    assert api(charlie).get(f"{LIST}?page=99").status_code == 404


# --- Constant number of queries --------------------------------------------------------------


def count_queries(client, url: str) -> int:
    client.get(url)  # warm the caches (content types, permissions) that any request fills once
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def fill_products(count: int, owner) -> None:
    steward = factories.UserFactory()
    for _ in range(count):
        product = factories.DataProductFactory(owner=owner, stewards=[steward], tags=[factories.TagFactory()])
        product.consumer_teams.add(factories.TeamFactory())


def fill_parts(product, count: int) -> None:
    for _ in range(count):
        goal = factories.GoalFactory(product=product)
        factories.InitiativeFactory(product=product).goals.add(goal)
        hypothesis = factories.HypothesisFactory(product=product, goal=goal)
        factories.UseCaseFactory(product=product).hypotheses.add(hypothesis)
        factories.UsagePatternFactory(product=product)
        output = factories.OutputFactory(product=product)
        factories.OutputColumnFactory.create_batch(2, output=output)
        kpi = factories.KPIFactory(product=product, output=output, owner=product.owner)
        kpi.goals.add(goal)
        factories.SLOFactory(product=product, kpi=kpi)
        factories.ProductInputFactory(product=product)


def test_the_list_takes_the_same_queries_for_2_or_20_products(api, alice):
    client = api(alice)
    fill_products(2, alice)
    few = count_queries(client, LIST)
    fill_products(18, alice)
    assert count_queries(client, LIST) == few


def test_the_detail_takes_the_same_queries_for_2_or_20_parts(api, alice, product):
    client = api(alice)
    fill_parts(product, 2)
    few = count_queries(client, detail("cross-sell"))
    fill_parts(product, 18)
    assert count_queries(client, detail("cross-sell")) == few


# --- Reference data: domains, tags, teams ----------------------------------------------------


def test_everyone_signed_in_reads_reference_data(api, charlie, product):
    factories.TeamFactory(slug="growth")
    factories.TagFactory(name="sales")
    assert api(charlie).get("/api/v1/domains/").json()["count"] == 1
    assert api(charlie).get("/api/v1/tags/sales/").json() == {"name": "sales"}
    assert api(charlie).get("/api/v1/teams/growth/").status_code == 200
    assert api(None).get("/api/v1/domains/").status_code == 401


def test_only_admins_write_domains(api, alice, admin_user):
    body = {"slug": "finance", "name": "Finance"}
    assert api(alice).post("/api/v1/domains/", body, format="json").status_code == 403
    assert api(admin_user).post("/api/v1/domains/", body, format="json").status_code == 201
    assert api(alice).delete("/api/v1/domains/finance/").status_code == 403
    assert api(admin_user).delete("/api/v1/domains/finance/").status_code == 204


def test_a_domain_with_products_cannot_be_deleted(api, admin_user, product):
    assert api(admin_user).delete(f"/api/v1/domains/{product.domain.slug}/").status_code == 409


def test_product_managers_create_tags(api, alice, charlie):
    assert api(charlie).post("/api/v1/tags/", {"name": "finance"}, format="json").status_code == 403
    assert api(alice).post("/api/v1/tags/", {"name": "finance"}, format="json").status_code == 201
    assert api(alice).delete("/api/v1/tags/finance/").status_code == 403
    response = api(alice).post("/api/v1/tags/", {"name": "Not a slug"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["name"]


def test_teams_are_read_only(api, admin_user):
    assert api(admin_user).post("/api/v1/teams/", {"slug": "x", "name": "X"}, format="json").status_code == 405
