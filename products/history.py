"""A product's recorded versions and the change requests stewards submit for review.

``ProductVersion`` is a full snapshot of the spec document (``products.specs.document.to_document``)
taken when a change commits (``products.versions``); ``ChangeRequest`` holds a proposed snapshot
that applies only when the owner approves it (``products.review``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

# No ``access_parent`` on these models on purpose: they are not part of the spec (the audit log and
# the version recorder follow models that have one); views reach them through their product.


class VersionSource(models.TextChoices):
    FORM = "form", "Form"
    API = "api", "API"
    IMPORT = "import", "Import"
    ADMIN = "admin", "Admin"
    RESTORE = "restore", "Restore"
    REVIEW = "review", "Review"
    DEMO = "demo", "Demo"
    SYSTEM = "system", "System"  # a command, a worker or the shell: no request being served


class ProductVersion(models.Model):
    product = models.ForeignKey("products.DataProduct", on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    version = models.CharField(max_length=40, help_text="The product's semantic version at the time.")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    message = models.CharField(max_length=500, blank=True)
    snapshot = models.JSONField()
    source = models.CharField(max_length=20, choices=VersionSource.choices, default=VersionSource.SYSTEM)
    breaking = models.JSONField(
        default=list,
        blank=True,
        help_text="What this version breaks for readers of the one before, in words; empty if nothing.",
    )

    class Meta:
        ordering = ["product", "-number"]
        constraints = [models.UniqueConstraint(fields=["product", "number"], name="unique_product_version_number")]

    def __str__(self) -> str:
        return f"{self.product_id} version {self.number}"

    def get_absolute_url(self) -> str:
        return reverse("products:history", kwargs={"slug": self.product.slug}) + f"?to={self.number}"


class ChangeStatus(models.TextChoices):
    OPEN = "open", "Open"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


class ChangeRequest(models.Model):
    product = models.ForeignKey("products.DataProduct", on_delete=models.CASCADE, related_name="change_requests")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="change_requests"
    )
    created = models.DateTimeField(auto_now_add=True)
    message = models.CharField(max_length=500, blank=True)
    base_version = models.ForeignKey(
        ProductVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="change_requests"
    )
    base_snapshot = models.JSONField(help_text="The spec the change was made against.")
    proposed = models.JSONField(help_text="The spec document as the change would leave it.")
    status = models.CharField(max_length=20, choices=ChangeStatus.choices, default=ChangeStatus.OPEN)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-created", "-pk"]
        indexes = [models.Index(fields=["product", "status"])]

    def __str__(self) -> str:
        return f"Change request #{self.pk} on {self.product_id}"

    def get_absolute_url(self) -> str:
        return reverse("products:change-request", kwargs={"slug": self.product.slug, "pk": self.pk})
