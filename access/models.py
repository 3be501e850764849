"""Access's records: the audit log, and the requests and grants to read an object's data.

The audit log is an append-only record of who did what to access, specs, connections and data.
Its rows hold plain values (ids, names, slugs), never foreign keys: deleting a user or a product must
not touch its history. Nothing in the hub updates or deletes a row: the model refuses, the admin
is read-only, and on PostgreSQL a trigger refuses UPDATE and DELETE (migration 0001).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from utilities.validators import no_nul


class AuditAction(models.TextChoices):
    SIGN_IN_FAILED = "sign_in_failed", "Sign-in failed"
    CONNECTION_CREATED = "connection_created", "Connection created"
    CONNECTION_CHANGED = "connection_changed", "Connection changed"
    CONNECTION_DELETED = "connection_deleted", "Connection deleted"
    SPEC_CREATED = "spec_created", "Spec part created"
    SPEC_CHANGED = "spec_changed", "Spec part changed"
    SPEC_DELETED = "spec_deleted", "Spec part deleted"
    ACCESS_REQUESTED = "access_requested", "Access requested"
    REQUEST_APPROVED = "request_approved", "Request approved"
    REQUEST_DENIED = "request_denied", "Request denied"
    GRANT_CREATED = "grant_created", "Grant created"
    GRANT_REVOKED = "grant_revoked", "Grant revoked"
    GRANT_EXPIRED = "grant_expired", "Grant expired"
    REQUEST_WITHDRAWN = "request_withdrawn", "Request withdrawn"
    PERMISSION_REMOVED = "permission_removed", "Permission removed"
    MANAGER_ADDED = "manager_added", "Access manager added"
    MANAGER_REMOVED = "manager_removed", "Access manager removed"
    DATA_READ = "data_read", "Data read"
    LIFECYCLE_CHANGED = "lifecycle_changed", "Lifecycle changed"


class AppendOnly(Exception):
    """An audit event cannot be changed or deleted."""


class AuditEvent(models.Model):
    at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    action = models.CharField(max_length=30, choices=AuditAction.choices, db_index=True, editable=False)
    actor_id = models.BigIntegerField(null=True, blank=True, editable=False, help_text="The user's id, if any.")
    actor_name = models.CharField(max_length=150, blank=True, db_index=True, editable=False)
    object_type = models.CharField(max_length=100, blank=True, editable=False, help_text="app_label.model")
    object_id = models.CharField(max_length=64, blank=True, editable=False)
    object_repr = models.CharField(max_length=300, blank=True, editable=False)
    product_slug = models.CharField(max_length=100, blank=True, db_index=True, editable=False)
    details = models.JSONField(default=dict, blank=True, editable=False)
    request_id = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    ip_address = models.GenericIPAddressField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["action", "-at"], name="audit_action_time")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name or '-'} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise AppendOnly("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("Audit events cannot be deleted.")


# --- Access to an object's data: requests and grants -------------------------------------------
# Generic over objects (``access`` never names a product model): the object is a content type and
# an id. Guardian's ``read_<model>`` permissions stay the permanent way to read; a grant is the
# time-bound one, made by a decision on a request or directly by someone who manages access.

MASKED, UNMASKED = "masked", "unmasked"  # the same words as access.policy, which imports these models
MAX_DAYS = 365
PURPOSE_MAX_LENGTH = 1000
COMMENT_MAX_LENGTH = 1000


class ReadLevel(models.TextChoices):
    MASKED = MASKED, "Masked (personal data hidden)"
    UNMASKED = UNMASKED, "Unmasked (personal data in clear)"


class RequestStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    DENIED = "denied", "Denied"
    WITHDRAWN = "withdrawn", "Withdrawn"


def days_validators() -> list:
    return [
        MinValueValidator(1, "Ask for at least 1 day."),
        MaxValueValidator(MAX_DAYS, f"Ask for at most {MAX_DAYS} days."),
    ]


class AccessRequest(models.Model):
    """A user asks to read an object's data at a level, for a purpose and a number of days."""

    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_requests")
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    content_object = GenericForeignKey("content_type", "object_id")
    purpose = models.CharField(max_length=PURPOSE_MAX_LENGTH, validators=[no_nul], help_text="Why you need the data.")
    level = models.CharField(max_length=10, choices=ReadLevel.choices, default=MASKED)
    days = models.PositiveSmallIntegerField(validators=days_validators(), help_text=f"1 to {MAX_DAYS} days.")
    status = models.CharField(max_length=10, choices=RequestStatus.choices, default=RequestStatus.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.CharField(max_length=COMMENT_MAX_LENGTH, blank=True, validators=[no_nul])
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id"], name="access_request_object")]
        constraints = [
            models.UniqueConstraint(
                fields=["requester", "content_type", "object_id", "level"],
                condition=Q(status=RequestStatus.PENDING),
                name="one_pending_request",
                violation_error_message="You already have a pending request for this level.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.requester} asks to read {self.content_object} ({self.level})"

    @property
    def is_pending(self) -> bool:
        return self.status == RequestStatus.PENDING


class AccessGrantQuerySet(models.QuerySet):
    def active(self, now=None) -> AccessGrantQuerySet:
        """Grants in force at ``now``: not revoked and not expired (checked at read time)."""
        now = now or timezone.now()
        return self.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now), revoked_at__isnull=True)

    def held_by(self, user) -> AccessGrantQuerySet:
        """Grants to the user or to one of their groups."""
        return self.filter(Q(user=user) | Q(group__in=user.groups.all()))


class AccessGrant(models.Model):
    """Reading an object's data at a level, given to a user or a group, until it expires or is revoked."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    content_object = GenericForeignKey("content_type", "object_id")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="access_grants"
    )
    group = models.ForeignKey(Group, on_delete=models.CASCADE, null=True, blank=True, related_name="access_grants")
    level = models.CharField(max_length=10, choices=ReadLevel.choices, default=MASKED)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: no expiry.")
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    reason = models.CharField(max_length=COMMENT_MAX_LENGTH, blank=True, validators=[no_nul])
    request = models.OneToOneField(
        AccessRequest, on_delete=models.SET_NULL, null=True, blank=True, related_name="grant"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Set by the periodic sweep once the expiry is in the audit log, so it is recorded once.
    expiry_recorded = models.BooleanField(default=False, editable=False)

    objects = AccessGrantQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["content_type", "object_id"], name="access_grant_object"),
            # What the policy asks at read time and when listing what a user may read.
            models.Index(fields=["user", "content_type", "object_id"], name="access_grant_user"),
            models.Index(fields=["group", "content_type", "object_id"], name="access_grant_group"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, group__isnull=True) | Q(user__isnull=True, group__isnull=False),
                name="grant_to_user_xor_group",
                violation_error_message="Give the access to a user or to a group, not both.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.holder} reads {self.content_object} ({self.level})"

    @property
    def holder(self):
        return self.user if self.user_id else self.group

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "active" if self.is_active else "expired"
