"""The spec over the API: GET as YAML, PUT and POST with a YAML body, 400 with every error and nothing written."""

import pytest

from access.models import AuditEvent
from products.models import DataProduct, Goal
from products.specs.document import dump, to_yaml

from .conftest import counts, spec_of

pytestmark = pytest.mark.django_db

YAML = "application/yaml"


def url(slug: str = "cross-sell") -> str:
    return f"/api/v1/products/{slug}/spec/"


def put(client, body, slug: str = "cross-sell", query: str = ""):
    return client.put(url(slug) + query, data=body, content_type=YAML)


def test_get_answers_the_document_as_yaml(api, product, charlie):
    response = api(charlie).get(url())
    assert response.status_code == 200
    assert response["Content-Type"] == "application/yaml; charset=utf-8"
    assert response.content.decode() == to_yaml(product)


def test_get_hides_drafts_from_outsiders_and_asks_for_sign_in(api, draft, charlie, bob):
    assert api(charlie).get(url("churn")).status_code == 404
    assert api(bob).get(url("churn")).status_code == 200
    assert api(None).get(url()).status_code in (401, 403)


def test_get_answers_yaml_to_a_client_that_accepts_only_yaml(api, product, alice):
    response = api(alice).get(url(), HTTP_ACCEPT=YAML)
    assert response.status_code == 200 and response.content.decode().startswith("apiVersion: lodestar/v1")


def test_put_replaces_the_spec_and_reports_the_change(api, product, bob):
    data = spec_of(product)
    data["spec"]["goals"] = [{"title": "Grow revenue"}]
    response = put(api(bob), dump(data))
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "dry_run": False,
        "products": [{"slug": "cross-sell", "changes": ["+ goal 'Grow revenue'"]}],
    }
    assert Goal.objects.get().title == "Grow revenue"
    before, events = counts(), AuditEvent.objects.count()
    assert put(api(bob), dump(data)).json()["products"][0]["changes"] == []
    assert counts() == before and AuditEvent.objects.count() == events


def test_put_dry_run_writes_nothing(api, product, bob):
    data = spec_of(product)
    data["spec"]["goals"] = [{"title": "Grow revenue"}]
    before = counts()
    response = put(api(bob), dump(data), query="?dry_run=true")
    assert response.json()["dry_run"] is True
    assert response.json()["products"][0]["changes"] == ["+ goal 'Grow revenue'"]
    assert counts() == before


def test_put_is_404_for_the_unseen_and_403_for_the_seen_but_not_changeable(api, product, draft, charlie):
    assert put(api(charlie), to_yaml(draft), "churn").status_code == 404
    assert put(api(charlie), to_yaml(product)).status_code == 403


def test_put_refuses_a_spec_that_renames_its_slug(api, product, alice):
    data = spec_of(product)
    data["metadata"]["slug"] = "renamed"
    before = counts()
    response = put(api(alice), dump(data))
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "line": 4,
                "column": 9,
                "path": "metadata.slug",
                "message": "this spec names 'renamed', not 'cross-sell': a spec cannot rename its product",
            }
        ]
    }
    assert counts() == before


BAD_BODIES = {
    "syntax": ("metadata: [\n", "(document)"),
    "schema": (
        "apiVersion: lodestar/v1\nkind: DataProduct\nmetadata: {slug: cross-sell, name: X, domain: d, owner: alice}\n"
        "spec:\n  goals:\n  - {title: A}\n  - {title: B}\n  - {title: C, target: lots}\n",
        "spec.goals[2].target",
    ),
    "api version": ("apiVersion: lodestar/v0\nkind: DataProduct\n", "apiVersion"),
    "duplicate key": ("kind: a\nkind: b\n", "kind"),
    "billion laughs": ("a: &a [x]\nb: [*a, *a]\n", "(document)"),
    "deep nesting": ("a: " + "{b: " * 40, "(document)"),
    "10 MB": ("#" * (10 * 1024 * 1024 + 1), "(document)"),
    "not utf-8": (b"kind: \xff\n", "(document)"),
}


@pytest.mark.parametrize("case", BAD_BODIES)
def test_bad_bodies_answer_400_with_the_error_list_and_write_nothing(case, api, product, alice):
    body, path = BAD_BODIES[case]
    before = counts()
    for response in (put(api(alice), body), api(alice).post("/api/v1/specs/", data=body, content_type=YAML)):
        assert response.status_code == 400
        errors = response.json()["errors"]
        assert path in [error["path"] for error in errors]
        assert all(error["line"] >= 1 and error["column"] >= 1 and error["message"] for error in errors)
    assert counts() == before


def test_the_schema_errors_come_all_at_once(api, product, alice):
    body = BAD_BODIES["schema"][0].replace("name: X", "name: 3").replace("{title: B}", "{title: B, colour: red}")
    errors = put(api(alice), body).json()["errors"]
    assert [(error["line"], error["path"], error["message"]) for error in errors] == [
        (3, "metadata.name", "expected text"),
        (7, "spec.goals[1].colour", "unknown field"),
        (8, "spec.goals[2].target", "expected a number"),
    ]


def test_post_creates_and_updates_by_slug(api, product, alice):
    data = spec_of(product)
    new = data | {"metadata": data["metadata"] | {"slug": "returns", "name": "Returns"}}
    body = dump(data) + "---\n" + dump(new)
    response = api(alice).post("/api/v1/specs/", data=body, content_type=YAML)
    assert response.status_code == 200, response.json()
    assert response.json()["products"] == [
        {"slug": "cross-sell", "changes": []},
        {"slug": "returns", "changes": ["+ product 'returns'"]},
    ]
    assert DataProduct.objects.get(slug="returns").owner == alice


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        ({"owner": "ghost"}, "metadata.owner", "no user 'ghost'"),
        ({"domain": "nowhere"}, "metadata.domain", "no domain 'nowhere'"),
        ({"slug": "brand-new"}, "metadata.slug", "you may not create products (there is no product 'brand-new' yet)"),
    ],
)
def test_post_answers_400_for_unknown_references_and_missing_permission(change, path, message, api, product, bob):
    data = spec_of(product)
    data["metadata"] |= change
    before = counts()
    response = api(bob).post("/api/v1/specs/", data=dump(data), content_type=YAML)
    assert response.status_code == 400
    assert [(error["path"], error["message"]) for error in response.json()["errors"]] == [(path, message)]
    assert counts() == before


def test_post_by_an_outsider_changes_nothing(api, product, charlie):
    data = spec_of(product)
    data["spec"]["summary"] = "An outsider's idea."
    before = counts()
    response = api(charlie).post("/api/v1/specs/", data=dump(data), content_type=YAML)
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "you may not change the product 'cross-sell'"
    assert counts() == before


def test_an_outsiders_unchanged_document_is_no_change_and_needs_no_permission(api, product, charlie):
    before = counts()
    response = api(charlie).post("/api/v1/specs/", data=to_yaml(product), content_type=YAML)
    assert response.status_code == 200
    assert response.json()["products"] == [{"slug": "cross-sell", "changes": []}]
    assert counts() == before


def test_an_unknown_upstream_output_is_a_400(api, product, alice):
    data = spec_of(product)
    data["spec"]["inputs"] = [{"output": "nowhere/orders"}]
    response = put(api(alice), dump(data))
    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "spec.inputs[0].output"


def test_a_json_body_is_refused_as_unsupported(api, product, alice):
    response = api(alice).put(url(), data={"a": 1}, format="json")
    assert response.status_code == 415
