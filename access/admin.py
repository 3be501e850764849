"""The audit log in the admin: read-only, filtered and searched, exported as CSV."""

from __future__ import annotations

import csv

from django.contrib import admin
from django.http import HttpResponse, StreamingHttpResponse

from utilities.admin import ReadOnlyModelAdmin

from .models import AuditEvent

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
    # A cell starting with = + - @ would be a formula to a spreadsheet (CSV injection).
    return "'" + text if text[:1] in {"=", "+", "-", "@"} else text


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
