"""The product's History page (two versions side by side, restore) and its change requests.

Who sees what comes from the policy: the history is for whoever sees the product, restoring
for whoever may change it; change requests are for the people who may change the product, and
deciding one for its owner and admins (never its author).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views import View

from access import policy

from . import review, versions
from .history import ChangeRequest, ChangeStatus, ProductVersion
from .models import DataProduct
from .specs.loader import SpecErrors

PANEL_VERSIONS = 5


def product_for(request: HttpRequest, slug: str, action: str = policy.VIEW) -> DataProduct:
    product = policy.get_visible_or_404(DataProduct.objects.select_related("owner"), request.user, slug=slug)
    policy.require(request.user, action, product)
    return product


def version_or_404(product: DataProduct, number: int) -> ProductVersion:
    return get_object_or_404(ProductVersion.objects.select_related("author"), product=product, number=number)


class HistoryView(View):
    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        product = product_for(request, slug)
        history = list(ProductVersion.objects.filter(product=product).select_related("author").defer("snapshot"))
        try:
            old, new = pick(product, history, request.GET)
        except ValueError as exc:
            return HttpResponseBadRequest(exc.args[1])
        context = {"product": product, "versions": history, "old": old, "new": new}
        context["can_change"] = policy.can(request.user, policy.CHANGE, product)
        if old is not None and new is not None:
            context["diff"] = versions.diff_lines(old.snapshot, new.snapshot)
            context["yaml_diff"] = versions.yaml_diff(
                old.snapshot, new.snapshot, f"version {old.number}", f"version {new.number}"
            )
        return render(request, "products/history.html", context)


def pick(product: DataProduct, history: list, params) -> tuple:
    """The two versions to compare: ``from`` and ``to``, by default the latest and the one before it."""
    first = versions.parse_number(params.get("from"), "from")
    second = versions.parse_number(params.get("to"), "to")
    if not history:
        return None, None
    second = second or history[0].number
    first = first or max(second - 1, 1)
    return version_or_404(product, first), version_or_404(product, second)


class RestoreView(View):
    def post(self, request: HttpRequest, slug: str, number: int) -> HttpResponse:
        product = product_for(request, slug, policy.CHANGE)
        version = version_or_404(product, number)
        try:
            restored = versions.restore(product, version, request.user)
        except SpecErrors as exc:
            messages.error(request, f"Version {number} was not restored: " + "; ".join(e.message for e in exc.errors))
        else:
            note = (
                f"as version {restored.number}" if restored and restored.snapshot == version.snapshot else "(no change)"
            )
            messages.success(request, f"Restored version {number} {note}.")
        return HttpResponseRedirect(reverse("products:history", args=[product.slug]))


class ChangeRequestView(View):
    def get(self, request: HttpRequest, slug: str, pk: int) -> HttpResponse:
        product = product_for(request, slug, policy.CHANGE)
        change = get_object_or_404(ChangeRequest.objects.select_related("author", "decided_by"), product=product, pk=pk)
        context = {"product": product, "review": review.review_of(change, request.user), "change": change}
        context["may_decide"] = review.may_decide(request.user, change) and change.status == ChangeStatus.OPEN
        return render(request, "products/change_request.html", context)

    def post(self, request: HttpRequest, slug: str, pk: int) -> HttpResponse:
        product = product_for(request, slug, policy.CHANGE)
        change = get_object_or_404(ChangeRequest, product=product, pk=pk)
        decision, comment = request.POST.get("decision"), request.POST.get("comment", "")
        if decision not in ("approve", "reject"):
            return HttpResponseBadRequest("decision must be approve or reject.")
        if not review.may_decide(request.user, change):
            raise PermissionDenied("Only the product's owner or an admin decides a change request, never its author.")
        try:
            review.approve(change, request.user, comment) if decision == "approve" else review.reject(
                change, request.user, comment
            )
        except (ValidationError, SpecErrors) as exc:
            messages.error(request, "Not done: " + "; ".join(getattr(exc, "messages", None) or map(str, exc.errors)))
        else:
            messages.success(request, f"Change request {change.pk} {change.get_status_display().lower()}.")
        return HttpResponseRedirect(change.get_absolute_url())


# --- Panels on the product page (constant queries) -------------------------------------------


def history_context(request: HttpRequest, product: DataProduct) -> dict:
    recent = list(
        ProductVersion.objects.filter(product=product).select_related("author").defer("snapshot")[:PANEL_VERSIONS]
    )
    return {"recent_versions": recent, "history_url": reverse("products:history", args=[product.slug])}


def changes_context(request: HttpRequest, product: DataProduct) -> dict | None:
    if not policy.can(request.user, policy.CHANGE, product):
        return None
    open_changes = list(
        ChangeRequest.objects.filter(product=product, status=ChangeStatus.OPEN)
        .select_related("author")
        .defer("proposed", "base_snapshot")
    )
    if not open_changes and not product.review_changes:
        return None
    return {"open_changes": open_changes, "count": len(open_changes)}
