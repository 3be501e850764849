"""The quality pages of a product: a run's detail, an incident, "run now", the checks editor and settings.

Every page hangs off a product named in the URL and asks the access policy about it first
(``ProductMixin``): 404 for a product the user may not see, 403 when the page changes something
and the user may only look. Objects named in the URL (a run, an incident, an output, a webhook)
are then looked up through the policy *and* within that product, so an id of another product's
object is a 404 too. Writes run in a transaction that is rolled back if the product would leave
the writer's reach (``policy.save_within_reach``).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.generic import TemplateView, View

from access import policy
from products import delivery
from products.models import DataProduct, Output

from . import alerts, incidents
from .forms import (
    IncidentAcknowledgeForm,
    IncidentResolveForm,
    IncidentSettingsForm,
    WebhookForm,
    check_formset,
)
from .models import CheckRun, Incident, IncidentEvent, Webhook
from .panels import STATUS_LABELS, tone
from .runs import run_now

OUT_OF_REACH_MESSAGE = "After this change you could no longer see this product, so nothing was saved."


def may_see_samples(user, output: Output) -> bool:
    """Failing-row samples are rows of the output's data, stored masked: shown to whoever may read the output
    (``policy.read_level``), except a reader under row filtering, as a sample may be a row outside their filter."""
    return policy.read_level(user, output) is not None and not delivery.is_row_filtered(user, output)


def sample_table(samples: list, schema: list[str] = ()) -> tuple[list[str], list[list]]:
    """The samples as a table, one row per sample: the output's columns in schema order, then any other key.

    The order comes from the schema because PostgreSQL's jsonb does not keep the keys' order.
    """
    rows = [sample for sample in samples if isinstance(sample, dict)]
    present = set().union(*rows) if rows else set()
    found = dict.fromkeys(key for row in rows for key in row)
    columns = [name for name in schema if name in present] + [key for key in found if key not in set(schema)]
    return columns, [[row.get(column) for column in columns] for row in rows]


def quality_anchor(product: DataProduct) -> str:
    return f"{product.get_absolute_url()}#quality"


class ProductMixin:
    """The product named by the URL's slug, through the policy: 404 if unseen, 403 without ``action``."""

    action: str = policy.VIEW

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        queryset = DataProduct.objects.select_related("domain", "owner")
        self.product = policy.get_visible_or_404(queryset, request.user, slug=kwargs["slug"])
        if self.action != policy.VIEW:
            policy.require(request.user, self.action, self.product)
        return super().dispatch(request, *args, **kwargs)

    def visible(self, queryset: QuerySet, action: str = policy.VIEW) -> QuerySet:
        """``queryset``'s rows the user may do ``action`` on."""
        return policy.restrict(queryset, self.request.user, action)

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        context["product"] = self.product
        if "can_change" not in context:
            context["can_change"] = policy.can(self.request.user, policy.CHANGE, self.product)
        return context


# --- A run ---------------------------------------------------------------------------------


class CheckRunDetailView(ProductMixin, TemplateView):
    """One run: what was checked, when, the result against the threshold, the error and failing rows."""

    template_name = "quality/checkrun_detail.html"

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        runs = self.visible(CheckRun.objects.select_related("quality_check__output"))
        run = get_object_or_404(runs, pk=kwargs["pk"], quality_check__product=self.product)
        output = run.quality_check.output
        show_samples = may_see_samples(self.request.user, output)
        schema = list(run.quality_check.output.columns.order_by("order", "id").values_list("name", flat=True))
        columns, rows = sample_table(run.samples, schema) if show_samples else ([], [])
        event = self.visible(IncidentEvent.objects.filter(run=run)).select_related("incident").first()
        return {
            **context,
            "run": run,
            "check": run.quality_check,
            "status_label": STATUS_LABELS.get(run.status, run.status),
            "status_tone": tone(run.status),
            "show_samples": show_samples,
            "samples_row_filtered": not show_samples and delivery.is_row_filtered(self.request.user, output),
            "sample_columns": columns,
            "sample_rows": rows,
            "incident": event.incident if event else None,
        }


# --- Incidents -----------------------------------------------------------------------------


class IncidentMixin(ProductMixin):
    def get_incident(self) -> Incident:
        queryset = self.visible(Incident.objects.select_related("quality_check__output", "slo", "kpi"))
        return get_object_or_404(queryset, pk=self.kwargs["pk"], product=self.product)


class IncidentDetailView(IncidentMixin, TemplateView):
    """An incident: its subject, status and timeline, with acknowledge and resolve forms for stewards."""

    template_name = "quality/incident_detail.html"

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        incident = kwargs.get("incident") or self.get_incident()
        events = incident.events.select_related("user", "run", "evaluation").order_by("at", "id")
        return {
            **context,
            "incident": incident,
            "incident_tone": tone(incident.status),
            "events": list(events),
            "acknowledge_form": kwargs.get("acknowledge_form") or IncidentAcknowledgeForm(),
            "resolve_form": kwargs.get("resolve_form") or IncidentResolveForm(),
        }


class IncidentActionView(IncidentDetailView):
    """POST a form that changes the incident; errors are drawn on the incident page, next to the field."""

    action = policy.CHANGE
    http_method_names = ["post"]
    form_class: type = IncidentAcknowledgeForm
    form_name = ""

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        incident = self.get_incident()
        form = self.form_class(request.POST)
        if form.is_valid():
            try:
                messages.success(request, self.perform(incident, form.cleaned_data))
            except ValidationError as exc:
                if not form.names_fields_of(exc):
                    # The incident moved on (acknowledged or resolved meanwhile): show where it stands now.
                    messages.error(request, " ".join(exc.messages))
                    return self.back(incident)
                form.add_domain_errors(exc)
            else:
                return self.back(incident)
        return self.render_to_response(self.get_context_data(incident=incident, **{self.form_name: form}))

    def back(self, incident: Incident) -> HttpResponse:
        return HttpResponseRedirect(reverse("quality:incident", args=[self.product.slug, incident.pk]))

    def perform(self, incident: Incident, data: dict) -> str:
        raise NotImplementedError


class IncidentAcknowledgeView(IncidentActionView):
    form_class = IncidentAcknowledgeForm
    form_name = "acknowledge_form"

    def perform(self, incident: Incident, data: dict) -> str:
        incidents.acknowledge(incident, self.request.user, data["note"].strip())
        return "Acknowledged: others can see someone is on it."


class IncidentResolveView(IncidentActionView):
    form_class = IncidentResolveForm
    form_name = "resolve_form"

    def perform(self, incident: Incident, data: dict) -> str:
        incidents.resolve(incident, self.request.user, data["resolution"])
        return "Resolved, with your reason kept in the timeline."


# --- Run now -------------------------------------------------------------------------------


class RunNowView(ProductMixin, View):
    """POST: run an output's enabled checks now, on a worker; back to the product's Quality panel."""

    action = policy.CHANGE
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        output = get_object_or_404(self.visible(Output.objects.all()), pk=kwargs["output"], product=self.product)
        try:
            runs = run_now(request.user, output)
        except ValidationError as exc:
            messages.error(request, f"Nothing to run on {output.name}: {' '.join(exc.messages)}")
        else:
            messages.success(
                request,
                f"Queued {len(runs)} check{'s' if len(runs) != 1 else ''} of {output.name}. "
                "Their results appear here once a worker has run them.",
            )
        return HttpResponseRedirect(quality_anchor(self.product))


# --- Checks editor -------------------------------------------------------------------------


class CheckEditView(ProductMixin, TemplateView):
    """An output's checks as an inline formset: add, change, delete; one bad row saves nothing."""

    action = policy.CHANGE
    template_name = "quality/check_form.html"

    def get_output(self) -> Output:
        outputs = self.visible(Output.objects.filter(product=self.product))
        return get_object_or_404(outputs, pk=self.kwargs["output"])

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        output = self.get_output()
        formset = check_formset(None, output, request.user)
        return self.render_to_response(self.get_context_data(output=output, formset=formset))

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        output = self.get_output()
        formset = check_formset(request.POST, output, request.user)
        if formset.is_valid():
            try:
                policy.save_within_reach(request.user, lambda: self.save(formset))
            except policy.OutOfReach:
                formset._non_form_errors.append(OUT_OF_REACH_MESSAGE)
            else:
                messages.success(request, f"Saved the checks of {output.name}.")
                return HttpResponseRedirect(quality_anchor(self.product))
        return self.render_to_response(self.get_context_data(output=output, formset=formset))

    def save(self, formset) -> DataProduct:
        formset.save()
        self.product.save(update_fields=["updated"])
        return self.product

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        context["outputs"] = self.visible(Output.objects.filter(product=self.product)).order_by("name")
        return context


# --- Settings: checks per output, incidents, webhooks -----------------------------------------


class QualitySettingsView(ProductMixin, TemplateView):
    """The steward's quality settings: links to each output's checks, incident handling and webhooks."""

    action = policy.CHANGE
    template_name = "quality/quality_settings.html"

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        outputs = self.visible(Output.objects.filter(product=self.product)).annotate(check_count=Count("checks"))
        webhooks = self.visible(Webhook.objects.filter(product=self.product), policy.CHANGE)
        return {
            **context,
            "outputs": outputs.order_by("name"),
            "webhooks": webhooks.order_by("id"),
            "webhook_form": kwargs.get("webhook_form") or WebhookForm(product=self.product),
            "incident_form": kwargs.get("incident_form") or IncidentSettingsForm(instance=self.product),
        }

    def redirect(self, anchor: str) -> HttpResponse:
        return HttpResponseRedirect(reverse("quality:settings", args=[self.product.slug]) + f"#{anchor}")


class WebhookCreateView(QualitySettingsView):
    """POST a URL: the webhook is created and its secret shown in this response only — never stored in clear."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        form = WebhookForm(request.POST, product=self.product)
        if form.is_valid():
            try:
                with transaction.atomic():
                    webhook, secret = alerts.create_webhook(self.product, form.cleaned_data["url"])
            except ValidationError as exc:
                form.add_domain_errors(exc)
            else:
                context = self.get_context_data(new_webhook=webhook, secret=secret)
                response = self.render_to_response(context)
                response["Cache-Control"] = "no-store"  # the secret must not be kept by any cache
                return response
        return self.render_to_response(self.get_context_data(webhook_form=form))


class WebhookMixin:
    def get_webhook(self) -> Webhook:
        webhooks = self.visible(Webhook.objects.filter(product=self.product), policy.CHANGE)
        return get_object_or_404(webhooks, pk=self.kwargs["pk"])


class WebhookToggleView(WebhookMixin, QualitySettingsView):
    """POST ``enabled=true`` or ``false``."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        webhook = self.get_webhook()
        value = request.POST.get("enabled")
        if value not in {"true", "false"}:
            return HttpResponseBadRequest("Send enabled=true or enabled=false.")
        webhook.enabled = value == "true"
        webhook.save(update_fields=["enabled"])
        messages.success(request, f"{'Enabled' if webhook.enabled else 'Disabled'} the webhook to {webhook.url}.")
        return self.redirect("webhooks")


class WebhookDeleteView(WebhookMixin, QualitySettingsView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        webhook = self.get_webhook()
        url = webhook.url
        webhook.delete()
        messages.success(request, f"Deleted the webhook to {url}; it will receive no more alerts.")
        return self.redirect("webhooks")


class IncidentSettingsView(QualitySettingsView):
    """POST the product's ``auto_resolve_incidents``."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        form = IncidentSettingsForm(request.POST, instance=self.product)
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(incident_form=form))
        product = form.instance
        # Only this field: a whole-row save could undo someone's edit of the product made meanwhile.
        product.save(update_fields=["auto_resolve_incidents", "updated"])
        state = "resolve themselves" if product.auto_resolve_incidents else "wait for a steward to resolve them"
        messages.success(request, f"Saved: incidents of “{product.name}” now {state}.")
        return self.redirect("incidents")
