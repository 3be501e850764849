"""The semantic-version rule: removing or retyping an output's column needs a major bump."""

import pytest
from django.urls import reverse

from products import semver, versions
from products.specs.document import dump
from products.specs.importer import import_documents
from products.specs.loader import SpecErrors, load
from tests.conftest import client_for

from .conftest import formset_as_shown

pytestmark = pytest.mark.django_db


def doc(*columns, version="1.4.0", status="published"):
    outputs = [{"name": "orders", "columns": [{"name": n, "type": t} for n, t in columns]}] if columns else []
    return {"metadata": {"version": version, "status": status}, "spec": {"outputs": outputs}}


def test_removing_and_retyping_are_breaking_adding_is_not():
    old = doc(("id", "integer"), ("email", "string"))
    assert semver.breaking_changes(old, doc(("id", "integer"), ("email", "string"), ("x", "date"))) == []
    assert semver.breaking_changes(old, doc(("id", "string"))) == [
        "output 'orders': column 'id' type integer → string",
        "output 'orders': column 'email' removed",
    ]
    assert semver.breaking_changes(old, doc()) == ["output 'orders' removed"]


def test_a_breaking_change_needs_a_major_bump():
    old = doc(("id", "integer"))
    with pytest.raises(semver.BreakingChange, match="from 1.4.0 to 2.0.0"):
        semver.check(old, doc(version="1.5.0"))
    semver.check(old, doc(version="2.0.0"))
    semver.check(doc(("id", "integer"), status="draft"), doc(status="draft"))


def test_the_api_refuses_a_column_removed_without_a_bump(orders, alice):
    url = f"/api/v1/outputs/{orders.pk}/"
    columns = [{"name": "id", "data_type": "integer", "role": "dimension", "classification": "internal"}]
    response = client_for(alice).patch(url, {"columns": columns}, format="json")
    assert response.status_code == 400, response.json()
    assert "2.0.0" in str(response.json()["version"])
    assert orders.columns.count() == 2
    assert client_for(alice).delete(url).status_code == 400
    client_for(alice).patch(f"/api/v1/products/{orders.product.slug}/", {"version": "2.0.0"}, format="json")


def test_an_import_refuses_it_and_accepts_it_with_a_bump(orders, alice):
    document = versions.snapshot_of(orders.product)
    document["spec"]["outputs"][0]["columns"] = document["spec"]["outputs"][0]["columns"][:1]
    with pytest.raises(SpecErrors, match="metadata.version: This change is breaking"):
        import_documents(load(dump(document)), user=alice)
    assert orders.columns.count() == 2
    document["metadata"]["version"] = "2.0.0"
    import_documents(load(dump(document)), user=alice)
    assert orders.columns.count() == 1


def test_the_columns_editor_refuses_it_and_offers_the_version(client, orders, alice):
    client.force_login(alice)
    url = reverse("products:edit-section", args=[orders.product.slug, "columns"]) + f"?output={orders.pk}"
    page = client.get(url)
    formset = page.context["formset"]
    data = formset_as_shown(formset)
    data[f"{formset.forms[1].prefix}-DELETE"] = "on"
    response = client.post(url, data)
    assert response.status_code == 200
    assert "raise the major version from 1.4.0 to 2.0.0" in response.content.decode()
    assert 'name="new_version"' in response.content.decode()
    assert orders.columns.count() == 2
    response = client.post(url, data | {"new_version": "2.0.0"})
    assert response.status_code == 302
    orders.product.refresh_from_db()
    assert (orders.columns.count(), orders.product.version) == (1, "2.0.0")
