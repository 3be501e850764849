"""Lineage: the graph around a product over the API and drawn on its page, and cycles refused."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from products import lineage
from products.models import ProductInput
from tests import factories
from tests.products.test_forms import formset_data

pytestmark = pytest.mark.django_db


def lineage_url(product, **params) -> str:
    url = reverse("product-lineage", args=[product.slug])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def reads(reader, source_product, name: str, **kwargs):
    """``reader`` reads ``source_product``'s output ``name`` (made if missing)."""
    output = source_product.outputs.filter(name=name).first() or factories.OutputFactory(
        product=source_product, name=name
    )
    return factories.ProductInputFactory(product=reader, source_output=output, **kwargs)


@pytest.fixture
def chain(alice, product):
    """raw → orders → cross-sell (the product) → campaigns → reports; a CRM export feeds the product too."""
    make = factories.DataProductFactory
    chain = {
        "raw": make(slug="raw", name="Raw events", owner=alice),
        "orders": make(slug="orders", name="Orders", owner=alice),
        "campaigns": make(slug="campaigns", name="Campaigns", owner=alice),
        "reports": make(slug="reports", name="Reports", owner=alice),
    }
    reads(chain["orders"], chain["raw"], "events")
    reads(product, chain["orders"], "orders")
    factories.ProductInputFactory(product=product, kind="external", source_output=None, external_name="CRM export")
    reads(chain["campaigns"], product, "scores")
    reads(chain["reports"], chain["campaigns"], "targets")
    return chain


def node_ids(answer: dict) -> set[str]:
    return {node["id"] for node in answer["nodes"]}


def product_slugs(answer: dict) -> set[str]:
    return {node["slug"] for node in answer["nodes"] if node["kind"] == "product"}


def test_it_walks_two_steps_each_way_by_default(api, charlie, product, chain):
    response = api(charlie).get(lineage_url(product))
    assert response.status_code == 200
    answer = response.json()
    assert answer["product"] == "cross-sell"
    assert product_slugs(answer) == {"raw", "orders", "cross-sell", "campaigns", "reports"}
    assert "external:CRM export" in node_ids(answer)
    depth = {node["id"]: node["depth"] for node in answer["nodes"]}
    assert (depth["product:raw"], depth["product:orders"], depth["product:cross-sell"]) == (-2, -1, 0)
    assert (depth["product:campaigns"], depth["product:reports"]) == (1, 2)
    assert answer["hidden"] == 0


def test_edges_run_from_source_to_reader_through_outputs(api, charlie, product, chain):
    answer = api(charlie).get(lineage_url(product)).json()
    scores = next(n for n in answer["nodes"] if n["kind"] == "output" and n["name"] == "scores")
    assert scores["product"] == "cross-sell"
    edges = {(e["from"], e["to"], e["kind"]) for e in answer["edges"]}
    assert ("product:cross-sell", scores["id"], "produces") in edges
    assert (scores["id"], "product:campaigns", "reads") in edges
    assert ("external:CRM export", "product:cross-sell", "reads") in edges
    orders = next(n for n in answer["nodes"] if n["kind"] == "output" and n["name"] == "orders")
    assert ("product:orders", orders["id"], "produces") in edges
    assert (orders["id"], "product:cross-sell", "reads") in edges


def test_product_nodes_carry_their_status_and_page(api, charlie, product, chain):
    chain["orders"].status = "deprecated"
    chain["orders"].sunset_date = "2099-01-01"
    chain["orders"].save()
    answer = api(charlie).get(lineage_url(product)).json()
    orders = next(n for n in answer["nodes"] if n["id"] == "product:orders")
    assert orders == {
        "id": "product:orders",
        "kind": "product",
        "name": "Orders",
        "depth": -1,
        "slug": "orders",
        "status": "deprecated",
        "url": "/products/orders/",
    }


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"depth": 1}, {"orders", "cross-sell", "campaigns"}),
        ({"direction": "up"}, {"raw", "orders", "cross-sell"}),
        ({"direction": "down", "depth": 1}, {"cross-sell", "campaigns"}),
        ({"direction": "both", "depth": 5}, {"raw", "orders", "cross-sell", "campaigns", "reports"}),
    ],
)
def test_depth_and_direction_narrow_the_walk(api, charlie, product, chain, params, expected):
    assert product_slugs(api(charlie).get(lineage_url(product, **params)).json()) == expected


def test_it_counts_hidden_products_without_naming_them_or_walking_past_them(api, charlie, alice, product, chain):
    secret = factories.DataProductFactory(slug="secret-draft", name="Secret draft", owner=alice, status="draft")
    reads(secret, product, "scores")
    reads(factories.DataProductFactory(slug="behind-secret", owner=alice), secret, "leak")
    chain["orders"].status = "draft"
    chain["orders"].save()  # charlie no longer sees orders, nor (through it) raw

    response = api(charlie).get(lineage_url(product, depth=3))
    answer = response.json()
    assert product_slugs(answer) == {"cross-sell", "campaigns", "reports"}
    assert answer["hidden"] == 2
    assert "secret" not in response.content.decode().lower()
    assert "leak" not in response.content.decode()
    # The owner sees all of it.
    assert {"secret-draft", "behind-secret", "orders", "raw"} <= product_slugs(
        api(alice).get(lineage_url(product, depth=3)).json()
    )


@pytest.mark.parametrize(
    "params, field",
    [
        ({"depth": 0}, "depth"),
        ({"depth": 6}, "depth"),
        ({"depth": "two"}, "depth"),
        ({"depth": "-1"}, "depth"),
        ({"direction": "sideways"}, "direction"),
        ({"direction": "UP"}, "direction"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_parameter(api, charlie, product, params, field):
    response = api(charlie).get(lineage_url(product, **params))
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_a_product_the_user_may_not_see_is_a_404(api, charlie, draft):
    assert api(charlie).get(lineage_url(draft)).status_code == 404
    assert api(charlie).get(reverse("product-lineage", args=["missing"])).status_code == 404
    assert api(None).get(lineage_url(draft)).status_code == 401


def grow(product, owner, readers: int) -> None:
    reads(product, factories.DataProductFactory(owner=owner), "one")
    for i in range(readers):
        reader = factories.DataProductFactory(owner=owner)
        reads(reader, product, f"out{i % 3}")
        reads(factories.DataProductFactory(owner=owner), reader, "next")


def queries_to_build(product, user) -> int:
    user = type(user).objects.get(pk=user.pk)  # a fresh user: no permission cache carried over
    with CaptureQueriesContext(connection) as queries:
        lineage.build(product, user, depth=2)
    return len(queries)


def test_the_walk_takes_the_same_queries_for_a_small_or_a_large_graph(alice, charlie):
    small, large = factories.DataProductFactory(owner=alice), factories.DataProductFactory(owner=alice)
    grow(small, alice, 1)
    grow(large, alice, 12)
    assert queries_to_build(small, charlie) == queries_to_build(large, charlie)
    assert len(lineage.build(large, charlie).products(2)) == 12


# --- Cycles -------------------------------------------------------------------------------------


def test_a_cycle_through_the_api_is_a_400_naming_source_output(api, alice, product, chain):
    # orders is upstream of cross-sell; orders reading cross-sell's scores would close a loop.
    scores = product.outputs.get(name="scores")
    body = {"product": "orders", "kind": "output", "source_output": scores.pk}
    response = api(alice).post(reverse("input-list"), body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["source_output"]
    assert not ProductInput.objects.filter(product=chain["orders"], source_output=scores).exists()


def test_a_cycle_through_the_inputs_form_is_refused_on_source_output(client, alice, product, chain):
    scores = product.outputs.get(name="scores")
    client.force_login(alice)
    url = reverse("products:edit-section", args=["raw", "inputs"])
    response = client.post(url, formset_data("inputs", [{"kind": "output", "source_output": scores.pk}]))
    assert response.status_code == 200
    errors = response.context["formset"].forms[0].errors
    assert list(errors) == ["source_output"]
    assert "cycle" in errors["source_output"][0]
    assert not ProductInput.objects.filter(product=chain["raw"]).exists()


# --- The drawing on the product page ------------------------------------------------------------


def test_the_page_draws_the_graph_as_svg(client, charlie, product, chain):
    chain["orders"].status = "deprecated"
    chain["orders"].sunset_date = "2099-01-01"
    chain["orders"].save()
    client.force_login(charlie)
    html = client.get(product.get_absolute_url()).content.decode()
    assert '<svg class="lineage-svg"' in html
    assert '<title id="lineage-svg-title">Lineage of Cross-sell</title>' in html
    for node in ("product:raw", "product:orders", "product:cross-sell", "product:campaigns", "product:reports"):
        assert f'data-node="{node}"' in html
    assert 'data-node="external:CRM export"' in html
    assert "lineage-svg__node--deprecated" in html  # orders, drawn in the warning colour
    assert '<a href="/products/orders/" class="lineage-svg__node-link">' in html
    # The list fallback names the same products, with links.
    fallback = html.split('class="lineage-list"')[1]
    assert '<a href="/products/reports/">Reports</a>' in fallback


def test_the_drawing_lays_columns_left_to_right_from_upstream(alice, product, chain):
    drawing = lineage.draw(lineage.build(product, alice))
    x = {box.node.id: box.x for box in drawing.boxes}
    assert (
        x["product:raw"] < x["product:orders"] < x["product:cross-sell"] < x["product:campaigns"] < x["product:reports"]
    )
    assert [column["title"] for column in drawing.columns] == [
        "Upstream, 2 steps",
        "Upstream",
        "This product",
        "Downstream",
        "Downstream, 2 steps",
    ]
    assert len(drawing.links) == 5  # raw→orders, orders→cross-sell, CRM→cross-sell, cross-sell→campaigns, →reports


def test_a_product_with_no_lineage_says_so(client, charlie, product):
    client.force_login(charlie)
    html = client.get(product.get_absolute_url()).content.decode()
    assert "No inputs recorded, and no product reads from this one yet." in html
