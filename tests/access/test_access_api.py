"""The access API: requests and grants, 400 naming the field, 404 for what one may not see, 403 for the rest."""

import pytest
from guardian.shortcuts import assign_perm

from access.models import AccessGrant, AccessRequest
from access.policy import MASKED, UNMASKED, read_level
from tests import factories

pytestmark = pytest.mark.django_db

REQUESTS = "/api/v1/access-requests/"
GRANTS = "/api/v1/access-grants/"


@pytest.fixture
def output(product):
    return factories.OutputFactory(product=product, name="orders")


def body(target, **changes) -> dict:
    return {"output": target.pk, "purpose": "Churn model", "level": "masked", "days": 30} | changes


def test_request_then_approve_gives_the_level(api, output, alice, charlie):
    created = api(charlie).post(REQUESTS, body(output), format="json")
    assert created.status_code == 201, created.json()
    data = created.json()
    assert (data["output"], data["product"], data["status"], data["requester"]) == (
        output.pk, "cross-sell", "pending", "charlie"
    )  # fmt: skip
    approved = api(alice).post(f"{REQUESTS}{data['id']}/approve/", {"comment": "Fine"}, format="json")
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved" and approved.json()["grant"] is not None
    assert read_level(charlie, output) == MASKED


def test_deny_needs_a_comment(api, output, alice, charlie):
    pk = api(charlie).post(REQUESTS, body(output), format="json").json()["id"]
    refused = api(alice).post(f"{REQUESTS}{pk}/deny/", {}, format="json")
    assert refused.status_code == 400 and "comment" in refused.json()
    denied = api(alice).post(f"{REQUESTS}{pk}/deny/", {"comment": "No"}, format="json")
    assert denied.json()["status"] == "denied"


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"purpose": ""}, "purpose"),
        ({"level": "all"}, "level"),
        ({"days": 0}, "days"),
        ({"days": 400}, "days"),
        ({"days": "many"}, "days"),
        ({"output": "x"}, "output"),
        ({"purpose": "x" * 1001}, "purpose"),
    ],
)
def test_bad_requests_name_the_field(api, output, charlie, changes, field):
    response = api(charlie).post(REQUESTS, body(output, **changes), format="json")
    assert response.status_code == 400 and field in response.json()
    assert not AccessRequest.objects.exists()


def test_a_repeated_request_is_a_400_naming_the_level(api, output, charlie):
    api(charlie).post(REQUESTS, body(output), format="json")
    again = api(charlie).post(REQUESTS, body(output), format="json")
    assert again.status_code == 400 and "pending" in again.json()["level"][0]


def test_an_output_one_cannot_see_is_a_404(api, draft, charlie):
    hidden = factories.OutputFactory(product=draft, name="scores")
    assert api(charlie).post(REQUESTS, body(hidden), format="json").status_code == 404
    assert api(charlie).post(REQUESTS, body(hidden) | {"output": 999999}, format="json").status_code == 404


def test_a_non_manager_who_sees_the_request_gets_a_403(api, output, product, bob, charlie):
    pk = api(bob).post(REQUESTS, body(output, level="unmasked"), format="json").json()["id"]
    assign_perm("manage_access", bob, product)
    assert api(bob).post(f"{REQUESTS}{pk}/approve/", {}, format="json").status_code == 403  # own request
    assert api(charlie).post(f"{REQUESTS}{pk}/approve/", {}, format="json").status_code == 404  # not his to see


def test_lists_show_mine_and_to_decide(api, output, alice, bob, charlie):
    api(charlie).post(REQUESTS, body(output), format="json")
    api(bob).post(REQUESTS, body(output, level="unmasked"), format="json")
    assert api(charlie).get(REQUESTS).json()["count"] == 1
    assert api(alice).get(REQUESTS, {"to_decide": "true"}).json()["count"] == 2
    assert api(alice).get(REQUESTS, {"mine": "true"}).json()["count"] == 0
    assert api(alice).get(REQUESTS, {"status": "approved"}).json()["count"] == 0
    bad = api(alice).get(REQUESTS, {"mine": "perhaps"})
    assert bad.status_code == 400 and "mine" in bad.json()


def test_withdraw_is_for_the_requester(api, output, alice, charlie):
    pk = api(charlie).post(REQUESTS, body(output), format="json").json()["id"]
    assert api(alice).post(f"{REQUESTS}{pk}/withdraw/").status_code == 403
    assert api(charlie).post(f"{REQUESTS}{pk}/withdraw/").json()["status"] == "withdrawn"


def test_a_manager_grants_and_revokes(api, output, alice, charlie):
    response = api(alice).post(GRANTS, {"output": output.pk, "user": "charlie", "level": "unmasked"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["state"] == "active" and response.json()["expires_at"] is None
    assert read_level(charlie, output) == UNMASKED
    assert api(charlie).get(GRANTS, {"active": "true"}).json()["count"] == 1
    revoked = api(alice).post(f"{GRANTS}{response.json()['id']}/revoke/")
    assert revoked.json()["state"] == "revoked"
    assert read_level(charlie, output) is None
    assert api(alice).get(GRANTS, {"active": "false", "user": "charlie"}).json()["count"] == 1


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"user": "nobody"}, "user"),
        ({"user": ""}, "user"),
        ({"group": "Analysts"}, "user"),  # both
        ({"level": "x"}, "level"),
        ({"days": 0}, "days"),
    ],
)
def test_bad_grants_name_the_field(api, output, alice, changes, field):
    data = {"output": output.pk, "user": "charlie", "level": "masked", **changes}
    factories.UserFactory(username="charlie")
    response = api(alice).post(GRANTS, data, format="json")
    assert response.status_code == 400 and field in response.json(), response.json()
    assert not AccessGrant.objects.exists()


def test_a_steward_granting_gets_a_403_and_an_outsider_on_a_hidden_output_a_404(api, output, draft, bob, charlie):
    data = {"output": output.pk, "user": "charlie", "level": "masked"}
    assert api(bob).post(GRANTS, data, format="json").status_code == 403
    hidden = factories.OutputFactory(product=draft, name="scores")
    assert api(charlie).post(GRANTS, {**data, "output": hidden.pk}, format="json").status_code == 404


def test_the_product_detail_lists_output_ids(api, output, charlie):
    outputs = api(charlie).get("/api/v1/products/cross-sell/").json()["outputs"]
    assert [item["id"] for item in outputs] == [output.pk]


def test_anonymous_clients_are_refused(api):
    assert api(None).get(REQUESTS).status_code in {401, 403}
    assert api(None).get(GRANTS).status_code in {401, 403}
