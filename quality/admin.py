"""The Django admin for checks and their runs. Admin forms are ModelForms, so every save runs ``Check.clean()``."""

from django.contrib import admin

from .models import Check, CheckRun


@admin.register(Check)
class CheckAdmin(admin.ModelAdmin):
    list_display = ["name", "output", "check_type", "threshold_display", "severity", "enabled", "schedule"]
    list_filter = ["check_type", "severity", "enabled"]
    search_fields = ["name", "output__name", "output__product__slug", "column"]
    list_select_related = ["output__product"]
    autocomplete_fields = ["output"]
    readonly_fields = ["product", "created", "updated"]

    @admin.display(description="threshold")
    def threshold_display(self, obj: Check) -> str:
        return obj.threshold_display


@admin.register(CheckRun)
class CheckRunAdmin(admin.ModelAdmin):
    """Runs are the record of what happened: read-only."""

    list_display = ["quality_check", "scheduled_for", "status", "observed_value", "duration_ms", "attempts"]
    list_filter = ["status", "quality_check__check_type"]
    search_fields = ["quality_check__name", "quality_check__output__name"]
    list_select_related = ["quality_check__output__product"]
    date_hierarchy = "scheduled_for"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
