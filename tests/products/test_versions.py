"""Version history: every committed change to a spec, from every path, records one version."""

import pytest
from django.contrib.admin.sites import site  # noqa: F401 - the admin's models are registered
from django.urls import reverse

from products import versions
from products.history import ProductVersion, VersionSource
from products.specs.document import dump
from products.specs.importer import import_documents
from products.specs.loader import load
from tests import factories
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def orders(product):
    output = factories.OutputFactory(product=product, name="orders")
    factories.OutputColumnFactory(output=output, name="id", data_type="integer")
    factories.OutputColumnFactory(output=output, name="email", data_type="string")
    return output


@pytest.fixture
def v1(product, orders, alice):
    """The product as it stands, recorded as version 1."""
    return versions.record_version(product, source=VersionSource.DEMO, message="Demo data", author=alice)


def numbers(product) -> list[int]:
    return list(ProductVersion.objects.filter(product=product).order_by("number").values_list("number", flat=True))


def test_a_change_records_one_version_on_commit(product, v1, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with versions.changing(VersionSource.FORM, "Edited goals", alice):
            factories.GoalFactory(product=product, title="Grow revenue")
            factories.GoalFactory(product=product, title="Keep customers")
    latest = versions.latest(product)
    assert numbers(product) == [1, 2]
    assert (latest.author, latest.message, latest.source) == (alice, "Edited goals", "form")
    assert [goal["title"] for goal in latest.snapshot["spec"]["goals"]] == ["Grow revenue", "Keep customers"]


def test_the_default_message_names_the_parts_changed(product, v1, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        factories.GoalFactory(product=product, title="Grow revenue")
    assert versions.latest(product).message == "Edited goals"
    assert versions.latest(product).source == VersionSource.SYSTEM


def test_a_rolled_back_change_records_nothing(product, v1, django_capture_on_commit_callbacks):
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            factories.GoalFactory(product=product, title="Grow revenue")
            transaction.set_rollback(True)
    assert numbers(product) == [1]
    assert callbacks == []


def test_a_form_post_records_a_version_by_its_user(client, product, v1, bob, django_capture_on_commit_callbacks):
    client.force_login(bob)
    url = reverse("products:edit-section", args=[product.slug, "goals"])
    data = {
        "goals-TOTAL_FORMS": "1",
        "goals-INITIAL_FORMS": "0",
        "goals-0-title": "Grow revenue",
        "goals-0-success_measure": "Revenue",
        "goals-0-target_value": "12",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    latest = versions.latest(product)
    assert (latest.number, latest.author, latest.source) == (2, bob, VersionSource.FORM)
    assert "goals" in latest.message


def test_an_api_patch_records_a_version(product, v1, bob, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(bob).patch(f"/api/v1/products/{product.slug}/", {"summary": "New words."}, format="json")
    assert response.status_code == 200, response.json()
    latest = versions.latest(product)
    assert (latest.number, latest.author, latest.source) == (2, bob, VersionSource.API)
    assert latest.snapshot["spec"]["summary"] == "New words."


def test_an_import_records_a_version_and_an_unchanged_import_none(
    product, v1, alice, django_capture_on_commit_callbacks
):
    document = dict(v1.snapshot)
    document["spec"] = dict(document["spec"], summary="Imported words.")
    with django_capture_on_commit_callbacks(execute=True):
        import_documents(load(dump(document)), user=alice, message="From git")
    latest = versions.latest(product)
    assert (latest.number, latest.source, latest.message) == (2, VersionSource.IMPORT, "From git")
    with django_capture_on_commit_callbacks(execute=True):
        import_documents(load(dump(document)), user=alice)
    assert numbers(product) == [1, 2]


def test_the_admin_records_a_version(client, product, v1, admin_user, django_capture_on_commit_callbacks):
    client.force_login(admin_user)
    url = reverse("admin:products_dataproduct_change", args=[product.pk])
    page = client.get(url)
    form = page.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    print(sorted(data))
    assert page.status_code == 200
