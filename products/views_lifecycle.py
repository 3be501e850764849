"""The lifecycle page: publish, deprecate (with a sunset date and a successor), undo, retire.

Whoever may change the product sees the page (404 if they may not see the product, 403 if they may
not change it); ``products.lifecycle.change_status`` decides each move and says which field is wrong.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.generic import FormView
from django.views.generic.detail import SingleObjectMixin

from access.models import AuditAction, AuditEvent

from . import lifecycle
from .forms import LifecycleForm
from .models import DataProduct
from .views_edit import ProductObjectMixin

HISTORY_LENGTH = 20


class LifecycleView(ProductObjectMixin, SingleObjectMixin, FormView):
    form_class = LifecycleForm
    template_name = "products/lifecycle_form.html"

    def get_queryset(self) -> QuerySet:
        return DataProduct.objects.select_related("domain", "owner", "replaced_by")

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.object = self.get_object()
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self) -> dict:
        return {**super().get_form_kwargs(), "user": self.request.user, "product": self.object}

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        context["allowed"] = lifecycle.allowed_statuses(self.object, self.request.user)
        context["history"] = AuditEvent.objects.filter(
            action=AuditAction.LIFECYCLE_CHANGED, product_slug=self.object.slug
        )[:HISTORY_LENGTH]
        return context

    def form_valid(self, form: LifecycleForm) -> HttpResponse:
        data = form.cleaned_data
        try:
            lifecycle.change_status(
                self.object,
                data["status"],
                by=self.request.user,
                sunset_date=data["sunset_date"],
                replaced_by=data["replaced_by"],
                note=data["note"],
            )
        except ValidationError as exc:
            self.object.refresh_from_db()  # the failed move may have touched the object in memory
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
            return self.form_invalid(form)
        messages.success(self.request, f"“{self.object.name}” is now {self.object.get_status_display().lower()}.")
        return HttpResponseRedirect(self.object.get_absolute_url())
