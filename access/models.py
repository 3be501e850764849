"""The audit log: an append-only record of who did what to access, specs, connections and data.

Rows hold plain values (ids, names, slugs), never foreign keys: deleting a user or a product must
not touch its history. Nothing in the hub updates or deletes a row: the model refuses, the admin
is read-only, and on PostgreSQL a trigger refuses UPDATE and DELETE (migration 0001).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


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
    DATA_READ = "data_read", "Data read"


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
