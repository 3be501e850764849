"""The audit log in the admin: read-only, filtered and searched, exported as CSV."""

from __future__ import annotations

import csv

from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, StreamingHttpResponse

from utilities.admin import ReadOnlyModelAdmin
from utilities.spreadsheet import safe_cell

from . import grants
from .models import AccessGrant, AccessRequest, AuditEvent

CSV_FIELDS = [
    "at", "action", "actor_id", "actor_name", "object_type", "object_id", "object_repr",
    "product_slug", "details", "request_id", "ip_address",
]  # fmt: skip


class Echo:
    """A file-like object whose write returns the line, for a streamed CSV."""

    def write(self, value: str) -> str:
        return value


def csv_rows(events):
    writer = csv.writer(Echo())
    yield writer.writerow(CSV_FIELDS)
    for event in events.iterator(chunk_size=2000):
        yield writer.writerow([csv_cell(getattr(event, field)) for field in CSV_FIELDS])


def csv_cell(value):
    text = value.isoformat() if hasattr(value, "isoformat") else ("" if value is None else str(value))
    return safe_cell(text)  # a cell starting with = + - @ would be a formula to a spreadsheet


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyModelAdmin):
    list_display = ["at", "action", "actor_name", "object_repr", "product_slug", "request_id", "ip_address"]
    list_filter = ["action", ("at", admin.DateFieldListFilter)]
    search_fields = ["actor_name", "object_repr", "product_slug", "request_id", "object_id"]
    date_hierarchy = "at"
    readonly_fields = CSV_FIELDS
    actions = ["export_csv"]

    @admin.action(description="Export the selected events as CSV")
    def export_csv(self, request, queryset) -> HttpResponse:
        response = StreamingHttpResponse(csv_rows(queryset.order_by("at", "id")), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
        return response


# --- Access requests and grants ----------------------------------------------------------------


@admin.register(AccessGrant)
class AccessGrantAdmin(ReadOnlyModelAdmin):
    """Grants are made and ended through ``access.grants`` (the product page, the API, the action below),
    so the rules and the audit log apply."""

    list_display = ["content_object", "user", "group", "level", "expires_at", "revoked_at", "granted_by", "created"]
    list_filter = ["level", ("expires_at", admin.EmptyFieldListFilter), ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__username", "group__name", "reason"]
    list_select_related = ["user", "group", "granted_by"]
    actions = ["revoke_selected"]

    @admin.action(description="Revoke the selected grants")
    def revoke_selected(self, request, queryset) -> None:
        revoked = 0
        for grant in queryset.filter(revoked_at__isnull=True):
            try:
                grants.revoke(grant, by=request.user)
                revoked += 1
            except (ValidationError, PermissionDenied, Http404) as exc:
                self.message_user(request, f"{grant}: {exc}", level="error")
        self.message_user(request, f"Revoked {revoked} grant{'s' if revoked != 1 else ''}.")


@admin.register(AccessRequest)
class AccessRequestAdmin(ReadOnlyModelAdmin):
    list_display = ["content_object", "requester", "level", "days", "status", "decided_by", "decided_at", "created"]
    list_filter = ["status", "level"]
    search_fields = ["requester__username", "purpose", "comment"]
    list_select_related = ["requester", "decided_by"]
