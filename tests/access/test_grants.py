"""Grants: given by access managers, in force until they expire or are revoked — checked at read time."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone
from guardian.shortcuts import assign_perm

from access import grants, tasks
from access.models import AccessGrant, AccessRequest, AuditAction, AuditEvent
from access.policy import MASKED, UNMASKED, read_level
from products.models import OutputUserObjectPermission
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def output(product):
    return factories.OutputFactory(product=product, name="orders")


def test_the_owner_grants_a_user_masked_reading_for_some_days(output, alice, charlie):
    grant = grants.grant(output, user=charlie, level=MASKED, days=7, by=alice, reason="Quarterly review")
    assert read_level(charlie, output) == MASKED
    assert timedelta(days=6, hours=23) < grant.expires_at - timezone.now() <= timedelta(days=7)
    event = AuditEvent.objects.get(action=AuditAction.GRANT_CREATED)
    assert (event.actor_name, event.product_slug, event.details["user"]) == ("alice", "cross-sell", "charlie")


def test_a_group_grant_counts_for_its_members(output, alice, charlie):
    analysts = Group.objects.create(name="Analysts")
    charlie.groups.add(analysts)
    grants.grant(output, group=analysts, level=UNMASKED, by=alice)
    assert read_level(charlie, output) == UNMASKED


def test_an_expired_grant_stops_working_before_any_sweep(output, alice, charlie):
    grant = grants.grant(output, user=charlie, level=MASKED, days=1, by=alice)
    AccessGrant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert read_level(charlie, output) is None


def test_a_revoked_grant_stops_on_the_next_read(output, alice, charlie):
    grant = grants.grant(output, user=charlie, level=MASKED, by=alice)
    grants.revoke(grant, by=alice)
    assert read_level(charlie, output) is None
    assert AuditEvent.objects.filter(action=AuditAction.GRANT_REVOKED, details__grant=grant.pk).exists()
    with pytest.raises(ValidationError) as error:
        grants.revoke(grant, by=alice)
    assert "grant" in error.value.message_dict


def test_a_steward_may_not_grant_unless_trusted_and_an_outsider_never(output, product, bob, charlie):
    with pytest.raises(PermissionDenied):
        grants.grant(output, user=charlie, level=MASKED, by=bob)
    with pytest.raises(PermissionDenied):
        grants.grant(output, user=bob, level=MASKED, by=charlie)
    assign_perm("manage_access", bob, product)
    grants.grant(output, user=charlie, level=MASKED, by=bob)
    assert read_level(charlie, output) == MASKED


def test_granting_on_an_output_the_granter_cannot_see_is_a_404(draft, charlie):
    hidden = factories.OutputFactory(product=draft, name="scores")
    with pytest.raises(Http404):
        grants.grant(hidden, user=charlie, level=MASKED, by=charlie)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"level": "everything"}, "level"),
        ({"days": 0}, "days"),
        ({"days": 366}, "days"),
        ({"days": "7"}, "days"),
        ({"group": "both"}, "user"),
        ({"user": None}, "user"),
        ({"reason": "x" * 1001}, "reason"),
    ],
)
def test_bad_input_names_the_field_and_grants_nothing(output, alice, charlie, kwargs, field):
    if kwargs.get("group") == "both":
        kwargs["group"] = Group.objects.create(name="Both")
    arguments = {"user": charlie, "level": MASKED, **kwargs}
    with pytest.raises(ValidationError) as error:
        grants.grant(output, by=alice, **arguments)
    assert field in error.value.message_dict
    assert not AccessGrant.objects.exists()


def test_the_sweep_records_each_expiry_once(output, alice, charlie, bob):
    expired = grants.grant(output, user=charlie, level=MASKED, days=1, by=alice)
    grants.grant(output, user=bob, level=MASKED, days=30, by=alice)  # still in force
    later = timezone.now() + timedelta(days=2)
    assert grants.expire_grants(now=later) == 1
    assert grants.expire_grants(now=later) == 0
    event = AuditEvent.objects.get(action=AuditAction.GRANT_EXPIRED)
    assert event.details["grant"] == expired.pk and event.actor_name == "system"
    assert AccessGrant.objects.filter(pk=expired.pk).exists()  # kept, listed as expired


def test_the_beat_task_runs_the_sweep(output, alice, charlie):
    grant = grants.grant(output, user=charlie, level=MASKED, days=1, by=alice)
    AccessGrant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert tasks.expire_access_grants.apply().get() == 1
    assert tasks.expire_access_grants.apply().get() == 0


def permission_rows(output_id: int) -> int:
    grants_left = AccessGrant.objects.filter(object_id=output_id).count()
    requests_left = AccessRequest.objects.filter(object_id=output_id).count()
    return grants_left + requests_left + OutputUserObjectPermission.objects.filter(content_object_id=output_id).count()


def give_everything(output, alice, charlie, bob) -> None:
    grants.grant(output, user=charlie, level=MASKED, by=alice)
    grants.request_access(output, requester=bob, purpose="Audit", level=UNMASKED, days=5)
    assign_perm("read_output", charlie, output)


def test_deleting_an_output_leaves_no_permission_rows(output, alice, bob, charlie):
    give_everything(output, alice, charlie, bob)
    pk = output.pk
    assert permission_rows(pk) == 3
    output.delete()
    assert permission_rows(pk) == 0


def test_deleting_a_product_leaves_no_permission_rows(output, product, alice, bob, charlie):
    give_everything(output, alice, charlie, bob)
    pk = output.pk
    product.delete()
    assert permission_rows(pk) == 0
