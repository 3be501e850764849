"""Shared Django admin pieces."""

from django.contrib import admin


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """A record of what happened (runs, deliveries, the audit log): viewed, never added, changed or deleted."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
