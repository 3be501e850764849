"""The Django admin for checks and their runs. Admin forms are ModelForms, so every save runs ``Check.clean()``."""

from django.contrib import admin

from products.admin import SpecAdminMixin
from utilities.admin import ReadOnlyModelAdmin

from . import alerts  # also registers the delivery task with workers, which import every admin
from .models import Check, CheckRun, Notification, Webhook


@admin.register(Check)
class CheckAdmin(SpecAdminMixin, admin.ModelAdmin):
    """Checks are part of their product's spec: written under change review and the semver rule."""

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
class CheckRunAdmin(ReadOnlyModelAdmin):
    """Runs are the record of what happened: read-only."""

    list_display = ["quality_check", "scheduled_for", "status", "observed_value", "duration_ms", "attempts"]
    list_filter = ["status", "quality_check__check_type"]
    search_fields = ["quality_check__name", "quality_check__output__name"]
    list_select_related = ["quality_check__output__product"]
    date_hierarchy = "scheduled_for"


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    """Never shows the secret. Webhooks are created with ``alerts.create_webhook``, which shows it once."""

    list_display = ["url", "product", "enabled", "created"]
    list_filter = ["enabled"]
    search_fields = ["url", "product__slug", "product__name"]
    list_select_related = ["product"]
    fields = ["product", "url", "enabled"]
    readonly_fields = ["product"]

    def has_add_permission(self, request) -> bool:
        return False  # a webhook added here would have no secret to sign with

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "url":
            kwargs["assume_scheme"] = "https"
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyModelAdmin):
    """The delivery record: read-only, with an action to queue failed deliveries again."""

    list_display = ["event", "channel", "recipient", "product", "status", "attempts", "created", "sent_at"]
    list_filter = ["status", "channel", "event"]
    search_fields = ["recipient", "subject", "product__slug"]
    list_select_related = ["product"]
    date_hierarchy = "created"
    actions = ["deliver_again"]

    def has_redeliver_permission(self, request) -> bool:
        return request.user.has_perm("quality.change_notification")

    @admin.action(description="Deliver again (all but sent)", permissions=["redeliver"])
    def deliver_again(self, request, queryset) -> None:
        count = alerts.redeliver(queryset)
        self.message_user(request, f"{count} notification(s) queued again.")
