"""Requests and grants to read an object's data: every page, API endpoint and task goes through here.

Each function checks who may act (``access.policy``), validates its input with errors that name
the field, changes the records in one transaction, and appends to the audit log. Emails go out
after the transaction commits, and carry names and purposes, never rows of data.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from . import audit, notify, policy
from .models import (
    COMMENT_MAX_LENGTH,
    MAX_DAYS,
    PURPOSE_MAX_LENGTH,
    AccessGrant,
    AccessRequest,
    AuditAction,
    ReadLevel,
    RequestStatus,
)

LEVEL_WORDS = {policy.MASKED: "masked", policy.UNMASKED: "in clear"}


# --- Validation ------------------------------------------------------------------------------


def clean_level(level) -> str:
    if level not in ReadLevel.values:
        raise ValidationError({"level": f"Choose one of {', '.join(ReadLevel.values)}."})
    return level


def clean_days(days, *, required: bool) -> int | None:
    if days in (None, "") and not required:
        return None
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValidationError({"days": f"A whole number of days from 1 to {MAX_DAYS}."})
    return days


def clean_text(field: str, value, *, max_length: int, required: bool) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if value is not None and not isinstance(value, str):
        raise ValidationError({field: "Enter text."})
    if required and not text:
        raise ValidationError({field: "This field is required."})
    if len(text) > max_length:
        raise ValidationError({field: f"At most {max_length} characters (it has {len(text)})."})
    if "\x00" in text:
        raise ValidationError({field: "Null characters are not allowed."})
    return text


def require_manager(user, obj: models.Model) -> None:
    """404 if ``user`` may not see ``obj``, 403 if they may see it but not manage access to it."""
    policy.require(user, policy.VIEW, obj)
    if not policy.can_manage_access(user, obj):
        raise PermissionDenied(f"You may not manage access to this {obj._meta.verbose_name}.")


def expiry(days: int | None, now: datetime | None = None) -> datetime | None:
    return None if days is None else (now or timezone.now()) + timedelta(days=days)


# --- Grants ----------------------------------------------------------------------------------


def grant(
    obj: models.Model,
    *,
    user=None,
    group: Group | None = None,
    level: str,
    days: int | None = None,
    by,
    reason: str = "",
) -> AccessGrant:
    """Give ``user`` or ``group`` (exactly one) reading ``obj`` at ``level``, for ``days`` or without expiry."""
    require_manager(by, obj)
    if (user is None) == (group is None):
        raise ValidationError({"user": "Give the access to a user or to a group, not both and not neither."})
    level = clean_level(level)
    days = clean_days(days, required=False)
    reason = clean_text("reason", reason, max_length=COMMENT_MAX_LENGTH, required=False)
    with transaction.atomic():
        return create_grant(obj, user=user, group=group, level=level, days=days, by=by, reason=reason)


def create_grant(obj, *, user, group, level, days, by, reason, request=None) -> AccessGrant:
    new = AccessGrant.objects.create(
        content_object=obj,
        user=user,
        group=group,
        level=level,
        expires_at=expiry(days),
        granted_by=by,
        reason=reason,
        request=request,
    )
    audit.record(AuditAction.GRANT_CREATED, actor=by, obj=obj, details=grant_details(new))
    return new


def grant_details(grant: AccessGrant) -> dict:
    holder = {"user": grant.user.get_username()} if grant.user_id else {"group": grant.group.name}
    expires = grant.expires_at.isoformat() if grant.expires_at else None
    return {"grant": grant.pk, **holder, "level": grant.level, "expires_at": expires}


def revoke(grant: AccessGrant, *, by) -> AccessGrant:
    """End a grant now; the holder's next read is refused."""
    require_manager(by, grant.content_object)
    with transaction.atomic():
        now = timezone.now()
        revoked = AccessGrant.objects.filter(pk=grant.pk, revoked_at__isnull=True).update(revoked_at=now, revoked_by=by)
        if not revoked:
            raise ValidationError({"grant": "This grant was already revoked."})
        grant.refresh_from_db()
        audit.record(AuditAction.GRANT_REVOKED, actor=by, obj=grant.content_object, details=grant_details(grant))
    return grant


def expire_grants(now: datetime | None = None) -> int:
    """Record in the audit log each grant that expired since the last sweep; returns how many.

    Nothing is deleted: an expired grant already stops working at read time, and stays listed
    as expired. Each grant is claimed with a conditional update, so sweeps may overlap safely.
    """
    now = now or timezone.now()
    due = AccessGrant.objects.filter(expires_at__lte=now, revoked_at__isnull=True, expiry_recorded=False)
    count = 0
    for expired in due.select_related("user", "group").iterator():
        with transaction.atomic():
            if AccessGrant.objects.filter(pk=expired.pk, expiry_recorded=False).update(expiry_recorded=True):
                obj = expired.content_object
                audit.record(AuditAction.GRANT_EXPIRED, obj=obj, details=grant_details(expired), actor_name="system")
                count += 1
    return count


# --- Requests --------------------------------------------------------------------------------


def request_access(obj: models.Model, *, requester, purpose: str, level: str, days: int) -> AccessRequest:
    """Ask to read ``obj`` at ``level`` for ``days``; the object's access managers are told by email."""
    policy.require(requester, policy.VIEW, obj)
    purpose = clean_text("purpose", purpose, max_length=PURPOSE_MAX_LENGTH, required=True)
    level = clean_level(level)
    days = clean_days(days, required=True)
    current = policy.read_level(requester, obj)
    if current == policy.UNMASKED or current == level:
        raise ValidationError({"level": f"You already read this {obj._meta.verbose_name} {LEVEL_WORDS[current]}."})
    try:
        with transaction.atomic():
            new = AccessRequest.objects.create(
                content_object=obj, requester=requester, purpose=purpose, level=level, days=days
            )
            audit.record(AuditAction.ACCESS_REQUESTED, actor=requester, obj=obj, details=request_details(new))
    except IntegrityError:
        raise ValidationError({"level": "You already have a pending request for this level."}) from None
    transaction.on_commit(lambda: notify.request_arrived(new))
    return new


def request_details(request: AccessRequest) -> dict:
    return {"request": request.pk, "level": request.level, "days": request.days, "status": request.status}


def approve(request: AccessRequest, *, by, comment: str = "") -> AccessGrant:
    """Approve a pending request: a grant to the requester, expiring after the days asked for."""
    obj = request.content_object
    check_decider(request, by, obj)
    comment = clean_text("comment", comment, max_length=COMMENT_MAX_LENGTH, required=False)
    with transaction.atomic():
        decide(request, RequestStatus.APPROVED, by=by, comment=comment)
        new = create_grant(
            obj, user=request.requester, group=None, level=request.level, days=request.days, by=by,
            reason=request.purpose, request=request,
        )  # fmt: skip
        audit.record(AuditAction.REQUEST_APPROVED, actor=by, obj=obj, details=request_details(request))
    transaction.on_commit(lambda: notify.request_decided(request))
    return new


def deny(request: AccessRequest, *, by, comment: str) -> AccessRequest:
    """Deny a pending request; the comment (required) tells the requester why."""
    obj = request.content_object
    check_decider(request, by, obj)
    comment = clean_text("comment", comment, max_length=COMMENT_MAX_LENGTH, required=True)
    with transaction.atomic():
        decide(request, RequestStatus.DENIED, by=by, comment=comment)
        audit.record(AuditAction.REQUEST_DENIED, actor=by, obj=obj, details=request_details(request))
    transaction.on_commit(lambda: notify.request_decided(request))
    return request


def withdraw(request: AccessRequest, *, by) -> AccessRequest:
    """The requester takes back their pending request."""
    if by.pk != request.requester_id:
        raise PermissionDenied("Only the requester may withdraw a request.")
    with transaction.atomic():
        decide(request, RequestStatus.WITHDRAWN, by=by, comment="")
        audit.record(
            AuditAction.REQUEST_WITHDRAWN, actor=by, obj=request.content_object, details=request_details(request)
        )
    return request


def check_decider(request: AccessRequest, by, obj: models.Model) -> None:
    require_manager(by, obj)
    # Nobody approves their own access, except an admin (who reads everything anyway).
    if by.pk == request.requester_id and not by.is_superuser:
        raise PermissionDenied("You cannot decide your own request; another access manager must.")


def decide(request: AccessRequest, status: str, *, by, comment: str) -> None:
    """Move a pending request to ``status``: a conditional update, so two deciders cannot both win."""
    now = timezone.now()
    pending = AccessRequest.objects.filter(pk=request.pk, status=RequestStatus.PENDING)
    if not pending.update(status=status, decided_by=by, decided_at=now, comment=comment):
        request.refresh_from_db()
        raise ValidationError({"status": f"This request is already {request.get_status_display().lower()}."})
    request.refresh_from_db()
