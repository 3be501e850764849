"""Every API endpoint that writes a part of a spec goes through change review and the semver rule.

A steward's create, change or delete on a published product under review is a change request (202)
and leaves the database as it was; the owner writes directly, and a breaking change without a major
bump is refused (400) whoever asks.
"""

from dataclasses import dataclass

import pytest

from products import versions
from products.history import ChangeRequest, ProductVersion, VersionSource
from quality.models import Check
from tests import factories
from tests.products import test_api_parts as parts

pytestmark = pytest.mark.django_db


@dataclass
class Endpoint:
    """What a write to one part endpoint needs: where, an existing part, a new one, a change."""

    endpoint: str
    make: object  # product -> an existing part
    payload: object  # product -> the body of a new part
    change: dict

    def url(self, part=None) -> str:
        return f"/api/v1/{self.endpoint}/" + (f"{part.pk}/" if part else "")


def from_parts(case: parts.PartEndpoint) -> Endpoint:
    # Renaming an output removes the old name from its readers: breaking, so outputs change their description.
    change = {"description": "Changed"} if case.endpoint == "outputs" else case.renamed
    return Endpoint(case.endpoint, lambda product: case.factory(product=product), case.payload, change)


def check_on(product) -> Check:
    return factories.CheckFactory(output=factories.OutputFactory(product=product), name="rows present")


def check_payload(product) -> dict:
    output = factories.OutputFactory(product=product)
    factories.OutputColumnFactory(output=output, name="email")
    return {"output": output.pk, "name": "emails present", "check_type": "missing_count", "column": "email"}


CASES = [
    parts.TestGoals,
    parts.TestInitiatives,
    parts.TestHypotheses,
    parts.TestUseCases,
    parts.TestUsagePatterns,
    parts.TestOutputs,
    parts.TestKPIs,
    parts.TestSLOs,
    parts.TestInputs,
]
ENDPOINTS = [from_parts(case()) for case in CASES] + [Endpoint("checks", check_on, check_payload, {"name": "renamed"})]
IDS = [endpoint.endpoint for endpoint in ENDPOINTS]


@pytest.fixture
def reviewed(product):
    """Alice's published product, under review, with its spec recorded as version 1."""
    product.version = "1.4.0"
    product.review_changes = True
    product.save()
    return product


def record(product) -> None:
    versions.record_version(product, source=VersionSource.DEMO, message="Before the change")


def spec_of(product) -> dict:
    return versions.snapshot_of(product)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_a_stewards_create_is_sent_for_review(api, bob, reviewed, endpoint):
    body = endpoint.payload(reviewed)
    record(reviewed)
    before = spec_of(reviewed)
    response = api(bob).post(endpoint.url(), body, format="json")
    assert response.status_code == 202, response.json()
    change = ChangeRequest.objects.get()
    assert f"change request {change.pk}" in response.json()["detail"]
    assert change.proposed != before and change.author == bob
    assert spec_of(reviewed) == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_a_stewards_change_and_delete_are_sent_for_review(api, bob, reviewed, endpoint):
    part = endpoint.make(reviewed)
    record(reviewed)
    before = spec_of(reviewed)
    client = api(bob)
    changed = client.patch(endpoint.url(part), endpoint.change, format="json")
    assert changed.status_code == 202, changed.json()
    deleted = client.delete(endpoint.url(part))
    breaking = endpoint.endpoint == "outputs"  # removing an output: refused without a bump, not even proposed
    assert deleted.status_code == (400 if breaking else 202), deleted.json()
    assert ChangeRequest.objects.count() == (1 if breaking else 2)
    assert spec_of(reviewed) == before
    assert type(part).objects.filter(pk=part.pk).exists()


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_the_owner_writes_directly_and_each_write_is_a_version(
    api, alice, reviewed, endpoint, django_capture_on_commit_callbacks
):
    body = endpoint.payload(reviewed)
    part = endpoint.make(reviewed)
    record(reviewed)
    client = api(alice)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(endpoint.url(), body, format="json").status_code == 201
    with django_capture_on_commit_callbacks(execute=True):
        assert client.patch(endpoint.url(part), endpoint.change, format="json").status_code == 200
    if endpoint.endpoint != "outputs":  # deleting an output is breaking: below
        with django_capture_on_commit_callbacks(execute=True):
            assert client.delete(endpoint.url(part)).status_code == 204
    assert not ChangeRequest.objects.exists()
    assert versions.latest(reviewed).snapshot == spec_of(reviewed)
    assert ProductVersion.objects.filter(product=reviewed).count() > 1


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_bad_input_is_still_a_400_naming_the_field(api, alice, bob, reviewed, endpoint):
    record(reviewed)
    field = "output" if endpoint.endpoint == "checks" else "product"
    for user in (alice, bob):
        body = endpoint.payload(reviewed) | {field: 999999 if field == "output" else "no-such-product"}
        response = api(user).post(endpoint.url(), body, format="json")
        assert response.status_code == 400 and list(response.json()) == [field], response.json()
    assert not ChangeRequest.objects.exists()


# --- Breaking changes ------------------------------------------------------------------------


@pytest.fixture
def orders(reviewed):
    output = factories.OutputFactory(product=reviewed, name="orders")
    factories.OutputColumnFactory(output=output, name="id", data_type="integer")
    factories.OutputColumnFactory(output=output, name="email", data_type="string")
    record(reviewed)
    return output


def test_the_owner_may_not_retype_a_column_without_a_bump(api, alice, orders):
    columns = [
        {"name": "id", "data_type": "string", "role": "dimension", "classification": "internal"},
        {"name": "email", "data_type": "string", "role": "dimension", "classification": "internal"},
    ]
    response = api(alice).patch(f"/api/v1/outputs/{orders.pk}/", {"columns": columns}, format="json")
    assert response.status_code == 400
    assert "column 'id' type integer → string" in response.json()["version"][0]
    assert orders.columns.get(name="id").data_type == "integer"


def test_the_owner_may_not_delete_an_output_without_a_bump(api, alice, orders):
    response = api(alice).delete(f"/api/v1/outputs/{orders.pk}/")
    assert response.status_code == 400
    assert "output 'orders' removed" in response.json()["version"][0]
    assert orders.product.outputs.filter(pk=orders.pk).exists()


def test_a_steward_may_not_even_propose_a_breaking_change_without_a_bump(api, bob, orders):
    response = api(bob).delete(f"/api/v1/outputs/{orders.pk}/")
    assert response.status_code == 400
    assert "2.0.0" in response.json()["version"][0]
    assert not ChangeRequest.objects.exists()


def test_checks_follow_their_output_to_another_product_only_where_nobody_reviews(api, alice, bob, orders, draft):
    check = factories.CheckFactory(output=orders, name="rows present")
    elsewhere = factories.OutputFactory(product=draft)
    response = api(bob).patch(f"/api/v1/checks/{check.pk}/", {"output": elsewhere.pk}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["output"]
    response = api(alice).patch(f"/api/v1/checks/{check.pk}/", {"output": elsewhere.pk}, format="json")
    assert response.status_code == 200, response.json()
    check.refresh_from_db()
    assert check.product == draft
