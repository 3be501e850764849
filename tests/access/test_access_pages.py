"""The Access section of the product page, My access, and the hub-wide permissions page."""

import pytest
from django.contrib.auth.models import Permission
from guardian.shortcuts import assign_perm

from access import grants
from access.models import AccessGrant, AccessRequest, AuditAction, AuditEvent
from access.policy import MASKED, UNMASKED, can_manage_access, read_level
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def output(product):
    return factories.OutputFactory(product=product, name="orders")


def page(client, user, product):
    client.force_login(user)
    return client.get(product.get_absolute_url()).content.decode()


def messages_of(response) -> list[str]:
    """The messages shown on the page the action redirected to."""
    return [str(message) for message in response.context["messages"]]


def test_an_outsider_sees_no_access_and_a_request_form(client, output, product, charlie):
    html = page(client, charlie, product)
    assert 'id="access"' in html and "You have no access" in html
    assert f"/access/outputs/{output.pk}/request/" in html
    assert "Grant access" not in html


def test_requesting_from_the_page_then_the_owner_approving(client, output, product, alice, charlie):
    client.force_login(charlie)
    data = {"purpose": "Churn model", "level": "masked", "days": "30"}
    response = client.post(f"/access/outputs/{output.pk}/request/", data)
    assert response.status_code == 302 and response.url.endswith("#access")
    request = AccessRequest.objects.get()
    owner_page = page(client, alice, product)
    assert "Churn model" in owner_page and f"/access/requests/{request.pk}/approve/" in owner_page
    response = client.post(f"/access/requests/{request.pk}/approve/", {"comment": ""})
    assert response.status_code == 302
    assert read_level(charlie, output) == MASKED
    assert "You read this masked" in page(client, charlie, product)


def test_bad_input_on_the_page_names_the_field_and_changes_nothing(client, output, charlie):
    client.force_login(charlie)
    data = {"purpose": "", "level": "masked", "days": "0"}
    response = client.post(f"/access/outputs/{output.pk}/request/", data, follow=True)
    text = " ".join(messages_of(response))
    assert "Purpose:" in text and "Days:" in text and "Nothing was changed" in text
    assert not AccessRequest.objects.exists()


def test_actions_answer_404_for_hidden_outputs_and_403_for_non_managers(client, output, draft, bob, charlie):
    hidden = factories.OutputFactory(product=draft, name="scores")
    client.force_login(charlie)
    assert client.post(f"/access/outputs/{hidden.pk}/request/", {}).status_code == 404
    request = grants.request_access(output, requester=charlie, purpose="x", level=MASKED, days=1)
    client.force_login(bob)
    assert client.post(f"/access/requests/{request.pk}/approve/", {}).status_code == 403
    assert client.get(f"/access/requests/{request.pk}/approve/").status_code == 405


def test_the_owner_grants_and_revokes_from_the_page(client, output, product, alice, charlie):
    client.force_login(alice)
    data = {"output": output.pk, "user": "charlie", "group": "", "level": "unmasked", "days": "", "reason": ""}
    client.post(f"/access/products/{product.pk}/grants/", data)
    grant = AccessGrant.objects.get()
    assert read_level(charlie, output) == UNMASKED and grant.expires_at is None
    client.post(f"/access/grants/{grant.pk}/revoke/")
    assert read_level(charlie, output) is None


def test_a_grant_naming_nobody_names_the_field(client, output, product, alice):
    client.force_login(alice)
    data = {"output": output.pk, "user": "nobody", "level": "masked"}
    response = client.post(f"/access/products/{product.pk}/grants/", data, follow=True)
    assert any("User:" in text for text in messages_of(response))
    assert not AccessGrant.objects.exists()


def test_the_owner_removes_a_permanent_permission_with_an_audit_event(client, output, product, alice, charlie):
    assign_perm("read_output", charlie, output)
    assert "Permanent permission" in page(client, alice, product)
    data = {"holder": "user", "holder_id": charlie.pk, "permission": "read_output"}
    client.post(f"/access/outputs/{output.pk}/permissions/remove/", data)
    assert read_level(charlie, output) is None
    assert AuditEvent.objects.filter(action=AuditAction.PERMISSION_REMOVED).exists()


def test_the_owner_lets_a_steward_manage_access_and_a_steward_cannot_do_it_himself(client, output, product, alice, bob):
    client.force_login(bob)
    assert client.post(f"/access/products/{product.pk}/managers/{bob.pk}/", {"may_manage": "on"}).status_code == 403
    client.force_login(alice)
    client.post(f"/access/products/{product.pk}/managers/{bob.pk}/", {"may_manage": "on"})
    assert can_manage_access(bob, output)
    client.post(f"/access/products/{product.pk}/managers/{bob.pk}/", {})
    assert not can_manage_access(bob, output)
    assert AuditEvent.objects.filter(action=AuditAction.MANAGER_ADDED).count() == 1


def test_my_access_lists_my_requests_and_grants(client, output, alice, charlie):
    request = grants.request_access(output, requester=charlie, purpose="Churn", level=MASKED, days=3)
    grants.deny(request, by=alice, comment="Use the aggregate")
    grants.grant(output, user=charlie, level=MASKED, days=2, by=alice)
    client.force_login(charlie)
    html = client.get("/access/").content.decode()
    assert "Use the aggregate" in html and "Denied" in html and "Active" in html and "orders" in html


def test_the_permissions_page_is_for_admins_and_hub_wide_managers(client, output, alice, charlie, admin_user):
    grants.grant(output, user=charlie, level=MASKED, by=alice)
    client.force_login(charlie)
    assert client.get("/access/permissions/").status_code == 403
    client.force_login(alice)  # manages her own products only
    assert client.get("/access/permissions/").status_code == 403
    client.force_login(admin_user)
    html = client.get("/access/permissions/", {"user": "charl"}).content.decode()
    assert "charlie" in html and "Grant" in html and "Manages access" not in html
    html = client.get("/access/permissions/", {"product": "cross"}).content.decode()
    assert "Manages access" in html and "alice" in html
    assert "Nothing matches" in client.get("/access/permissions/", {"product": "nothing-like-it"}).content.decode()


def test_a_hub_wide_manager_reaches_the_permissions_page(client, charlie):
    charlie.user_permissions.add(Permission.objects.get(codename="manage_access"))
    client.force_login(charlie)
    assert client.get("/access/permissions/").status_code == 200


def test_anonymous_visitors_are_sent_to_sign_in(client):
    assert client.get("/access/").status_code == 302
