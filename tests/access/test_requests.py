"""Access requests: asked with a purpose, decided by an access manager, told by email."""

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from guardian.shortcuts import assign_perm

from access import grants
from access.models import AccessRequest, AuditAction, AuditEvent, RequestStatus
from access.policy import MASKED, UNMASKED, read_level
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def output(product):
    return factories.OutputFactory(product=product, name="orders")


def ask(output, user, level=MASKED, days=14, purpose="Churn analysis for the Q3 review"):
    return grants.request_access(output, requester=user, purpose=purpose, level=level, days=days)


def test_a_request_tells_the_access_managers_by_email(output, charlie, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        request = ask(output, charlie)
    assert request.status == RequestStatus.PENDING
    assert [message.to for message in mail.outbox] == [["alice@example.com"]]  # the owner, not the steward
    assert "Churn analysis for the Q3 review" in mail.outbox[0].body
    assert AuditEvent.objects.filter(action=AuditAction.ACCESS_REQUESTED, actor_name="charlie").exists()


def test_approval_grants_the_level_for_the_days_asked_and_tells_the_requester(
    output, alice, charlie, django_capture_on_commit_callbacks
):
    request = ask(output, charlie, level=UNMASKED, days=3)
    with django_capture_on_commit_callbacks(execute=True):
        grant = grants.approve(request, by=alice, comment="OK for the review")
    assert read_level(charlie, output) == UNMASKED
    assert grant.request == request and grant.expires_at.date() > grant.created.date()
    request.refresh_from_db()
    assert (request.status, request.decided_by, request.comment) == ("approved", alice, "OK for the review")
    assert mail.outbox[-1].to == ["charlie@example.com"]
    assert "approved" in mail.outbox[-1].subject.lower()


def test_denial_needs_a_comment_and_tells_the_requester_why(output, alice, charlie, django_capture_on_commit_callbacks):
    request = ask(output, charlie)
    with pytest.raises(ValidationError) as error:
        grants.deny(request, by=alice, comment="  ")
    assert "comment" in error.value.message_dict
    with django_capture_on_commit_callbacks(execute=True):
        grants.deny(request, by=alice, comment="Use the aggregated output instead")
    assert read_level(charlie, output) is None
    assert "Use the aggregated output instead" in mail.outbox[-1].body


def test_a_decided_request_cannot_be_decided_again(output, alice, charlie):
    request = ask(output, charlie)
    grants.approve(request, by=alice)
    with pytest.raises(ValidationError) as error:
        grants.deny(request, by=alice, comment="Changed my mind")
    assert "status" in error.value.message_dict


def test_only_access_managers_decide_and_nobody_their_own_request(output, product, bob, charlie):
    request = ask(output, bob, level=UNMASKED)
    with pytest.raises(PermissionDenied):
        grants.approve(request, by=charlie)
    assign_perm("manage_access", bob, product)
    with pytest.raises(PermissionDenied):
        grants.approve(request, by=bob)
    assert AccessRequest.objects.get(pk=request.pk).is_pending


def test_an_admin_may_approve_their_own_request(output, admin_user):
    readers = factories.UserFactory(username="dora")
    request = ask(output, readers)
    grants.approve(request, by=admin_user)
    assert read_level(readers, output) == MASKED


def test_the_requester_withdraws_and_nobody_else(output, alice, charlie):
    request = ask(output, charlie)
    with pytest.raises(PermissionDenied):
        grants.withdraw(request, by=alice)
    grants.withdraw(request, by=charlie)
    assert AccessRequest.objects.get(pk=request.pk).status == RequestStatus.WITHDRAWN
    ask(output, charlie)  # withdrawn: a new request may be made


def test_one_pending_request_per_level(output, charlie):
    ask(output, charlie)
    with pytest.raises(ValidationError) as error:
        ask(output, charlie)
    assert error.value.message_dict["level"] == ["You already have a pending request for this level."]
    ask(output, charlie, level=UNMASKED)  # another level is another request
    assert AccessRequest.objects.count() == 2


def test_asking_for_what_you_already_read_is_refused(output, alice, bob):
    with pytest.raises(ValidationError) as error:
        ask(output, bob, level=MASKED)  # a steward reads masked
    assert "already read" in error.value.message_dict["level"][0]
    ask(output, bob, level=UNMASKED)
    with pytest.raises(ValidationError):
        ask(output, alice, level=UNMASKED)


def test_asking_for_an_output_you_cannot_see_is_a_404(draft, charlie):
    hidden = factories.OutputFactory(product=draft, name="scores")
    with pytest.raises(Http404):
        ask(hidden, charlie)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"purpose": ""}, "purpose"),
        ({"purpose": "   "}, "purpose"),
        ({"purpose": "x" * 1001}, "purpose"),
        ({"purpose": "a\x00b"}, "purpose"),
        ({"level": "all"}, "level"),
        ({"days": 0}, "days"),
        ({"days": 366}, "days"),
        ({"days": None}, "days"),
    ],
)
def test_bad_input_names_the_field_and_creates_nothing(output, charlie, kwargs, field):
    with pytest.raises(ValidationError) as error:
        ask(output, charlie, **kwargs)
    assert field in error.value.message_dict
    assert not AccessRequest.objects.exists()


def test_emails_carry_no_row_data_only_names_and_the_purpose(
    output, alice, charlie, django_capture_on_commit_callbacks
):
    factories.OutputColumnFactory(output=output, name="email", classification="pii")
    with django_capture_on_commit_callbacks(execute=True):
        request = ask(output, charlie)
        grants.approve(request, by=alice)
    assert len(mail.outbox) == 2
    for message in mail.outbox:
        assert "cross-sell.orders" in message.body
        assert "@example.com" not in message.body  # not even the people's addresses
