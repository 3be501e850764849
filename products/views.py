"""The product page. The edit views live in ``views_edit.py``."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.views.generic import DetailView

from access import policy
from access.views import RestrictedObjectMixin

from . import panels
from .models import KPI, SLO, DataProduct, Goal, Hypothesis, Initiative, Output, ProductInput, UseCase


def product_page_queryset() -> QuerySet:
    """A product with everything its page shows, in a constant number of queries."""
    hypotheses = Hypothesis.objects.select_related("initiative").prefetch_related("use_cases")
    return DataProduct.objects.select_related("domain", "owner", "north_star").prefetch_related(
        "tags",
        "stewards",
        "consumer_teams",
        Prefetch("goals", queryset=Goal.objects.prefetch_related(Prefetch("hypotheses", queryset=hypotheses))),
        Prefetch("initiatives", queryset=Initiative.objects.prefetch_related("goals")),
        Prefetch("use_cases", queryset=UseCase.objects.prefetch_related("hypotheses")),
        "usage_patterns",
        Prefetch("kpis", queryset=KPI.objects.select_related("output", "owner")),
        Prefetch("outputs", queryset=Output.objects.select_related("connection").prefetch_related("columns")),
        Prefetch("slos", queryset=SLO.objects.select_related("kpi")),
        Prefetch("inputs", queryset=ProductInput.objects.select_related("source_output__product")),
    )


class DataProductDetailView(RestrictedObjectMixin, DetailView):
    """A product's page: its header, then the panels every app registers (see ``products.panels``)."""

    template_name = "products/dataproduct_detail.html"
    context_object_name = "product"

    def get_queryset(self) -> QuerySet:
        return product_page_queryset()

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context["can_change"] = policy.can(user, policy.CHANGE, self.object)
        context["panels"] = panels.bind_panels(self.request, self.object)
        return context
