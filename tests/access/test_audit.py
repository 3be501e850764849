"""The audit log: who did what, appended by every path, never changed or deleted."""

import csv
import io

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from access.models import AppendOnly, AuditAction, AuditEvent
from products.models import Connection
from tests import factories
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

SECRET_URL = "postgresql://reader:s3cret-pw@db.example.com:5432/warehouse"


def events(action) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_a_failed_sign_in_is_recorded_with_the_name_tried_but_never_the_password(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "wrong-pw"}, REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 200
    [event] = events(AuditAction.SIGN_IN_FAILED)
    assert (event.actor_id, event.actor_name, event.ip_address) == (None, "alice", "10.1.2.3")
    assert event.request_id == response["X-Request-ID"]
    assert "wrong-pw" not in str(AuditEvent.objects.values())


def test_connection_changes_are_recorded_without_the_secret(client, admin_user):
    client.force_login(admin_user)
    add = reverse("admin:products_connection_add")
    response = client.post(add, {"name": "warehouse", "description": "", "url": SECRET_URL, "check_role": ""})
    assert response.status_code == 302
    created = Connection.objects.get(name="warehouse")
    change = reverse("admin:products_connection_change", args=[created.pk])
    client.post(change, {"name": "warehouse", "description": "The DWH", "url": "", "check_role": "reader"})
    client.post(reverse("admin:products_connection_delete", args=[created.pk]), {"post": "yes"})
    actions = list(
        AuditEvent.objects.filter(object_type="products.connection").order_by("id").values_list("action", "actor_name")
    )
    assert actions == [
        (AuditAction.CONNECTION_CREATED, "admin"),
        (AuditAction.CONNECTION_CHANGED, "admin"),
        (AuditAction.CONNECTION_DELETED, "admin"),
    ]
    assert "s3cret-pw" not in str(list(AuditEvent.objects.values()))
    assert (
        events(AuditAction.CONNECTION_CREATED)[0].details["url"]
        == "postgresql://reader:***@db.example.com:5432/warehouse"
    )


def test_a_spec_change_through_the_api_names_the_user_product_and_request(bob, product):
    goal = factories.GoalFactory(product=product)
    response = client_for(bob).patch(
        f"/api/v1/goals/{goal.pk}/", {"title": "Grow basket size"}, format="json", HTTP_X_REQUEST_ID="trace-42"
    )
    assert response.status_code == 200
    assert response["X-Request-ID"] == "trace-42"
    [event] = events(AuditAction.SPEC_CHANGED)
    assert (event.actor_name, event.actor_id, event.product_slug) == ("bob", bob.pk, product.slug)
    assert (event.object_type, event.object_id, event.request_id) == ("products.goal", str(goal.pk), "trace-42")


def test_an_unusable_request_id_is_replaced(client, alice):
    client.force_login(alice)
    response = client.get("/", HTTP_X_REQUEST_ID="bad id; with spaces")
    assert response["X-Request-ID"] != "bad id; with spaces"
    assert len(response["X-Request-ID"]) == 32


def test_deleting_a_product_keeps_its_history(product, alice):
    goal, product_id = factories.GoalFactory(product=product), product.pk
    product.delete()
    deleted = {(event.object_type, event.object_id) for event in events(AuditAction.SPEC_DELETED)}
    assert {("products.dataproduct", str(product_id)), ("products.goal", str(goal.pk))} <= deleted
    assert AuditEvent.objects.filter(product_slug="cross-sell", action=AuditAction.SPEC_CREATED).exists()


def test_an_event_cannot_be_changed_or_deleted_through_the_model():
    event = AuditEvent.objects.create(action=AuditAction.DATA_READ, actor_name="alice")
    event.actor_name = "mallory"
    with pytest.raises(AppendOnly):
        event.save()
    with pytest.raises(AppendOnly):
        event.delete()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_the_database_refuses_updates_and_deletes():
    event = AuditEvent.objects.create(action=AuditAction.DATA_READ, actor_name="alice")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(actor_name="mallory")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).actor_name == "alice"


def test_the_admin_lists_and_exports_but_never_adds_changes_or_deletes(client, admin_user):
    first = AuditEvent.objects.create(action=AuditAction.DATA_READ, actor_name="alice", object_repr="=HYPERLINK(1)")
    AuditEvent.objects.create(action=AuditAction.SIGN_IN_FAILED, actor_name="bob")
    client.force_login(admin_user)
    changelist = reverse("admin:access_auditevent_changelist")
    assert client.get(changelist, {"action__exact": "data_read"}).status_code == 200
    assert client.get(reverse("admin:access_auditevent_add")).status_code == 403
    detail = reverse("admin:access_auditevent_change", args=[first.pk])
    assert client.get(detail).status_code == 200  # view only
    assert client.post(detail, {"actor_name": "mallory"}).status_code == 403
    assert client.post(reverse("admin:access_auditevent_delete", args=[first.pk]), {"post": "yes"}).status_code == 403
    response = client.post(
        changelist, {"action": "export_csv", ACTION_CHECKBOX_NAME: [e.pk for e in AuditEvent.objects.all()]}
    )
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["at", "action", "actor_id", "actor_name"]
    assert [row[1] for row in rows[1:]] == ["data_read", "sign_in_failed"]
    assert rows[1][6] == "'=HYPERLINK(1)"  # not a formula in a spreadsheet
    assert AuditEvent.objects.get(pk=first.pk).actor_name == "alice"


def test_people_who_are_not_admins_do_not_see_the_log(client, alice):
    client.force_login(alice)
    response = client.get(reverse("admin:access_auditevent_changelist"))
    assert response.status_code == 302  # to the admin's login
