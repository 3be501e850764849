"""The metric registry: every KPI the user may see, across products, with what it reads and its current value."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, QueryDict
from django.views.generic import TemplateView

from access import policy
from products.choices import IndicatorType, KPILevel, KPIStatus
from products.kpi_filters import FilterError, columns_of, parse
from products.models import KPI, DataProduct, Domain
from products.panels import kpi_calculation
from quality.views_kpis import CardView, card_view, cards_for

PAGE_SIZE = 20
FILTERS = ("q", "product", "domain", "level", "status", "indicator", "owner")


@dataclass
class Metric:
    kpi: KPI
    calculation: str
    columns: list[str]
    filter_columns: list[str]
    card: CardView


def filter_columns(kpi: KPI) -> list[str]:
    try:
        return sorted(columns_of(parse(kpi.filter)))
    except FilterError:  # a filter saved before the parser: shown as written, its columns unknown
        return []


def metric_of(kpi: KPI, user, card) -> Metric:
    columns = [kpi.column, kpi.denominator_column, kpi.time_column, *(kpi.dimensions or [])]
    return Metric(
        kpi=kpi,
        calculation=kpi_calculation(kpi),
        columns=list(dict.fromkeys(name for name in columns if name)),
        filter_columns=filter_columns(kpi),
        card=card_view(kpi, user, slug=kpi.product.slug, card=card),
    )


def narrow(kpis: QuerySet, params: QueryDict) -> QuerySet:
    """The KPIs matching the GET filters; an unknown value matches nothing, as a typed URL should."""
    text = params.get("q", "").strip()
    if text:
        kpis = kpis.filter(Q(name__icontains=text) | Q(definition__icontains=text) | Q(product__name__icontains=text))
    exact = {
        "product": "product__slug",
        "domain": "product__domain__slug",
        "level": "level",
        "status": "status",
        "indicator": "indicator_type",
        "owner": "owner__username",
    }
    for name, lookup in exact.items():
        value = params.get(name, "").strip()
        if value:
            kpis = kpis.filter(**{lookup: value})
    return kpis


class MetricRegistryView(TemplateView):
    template_name = "catalog/metrics.html"

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        request: HttpRequest = self.request
        user = request.user
        visible = KPI.objects.restrict(user, policy.VIEW)
        kpis = (
            narrow(visible, request.GET)
            .select_related("product__domain", "product__owner", "output", "owner")
            .order_by("product__name", "pk")
        )
        page = Paginator(kpis, PAGE_SIZE).get_page(request.GET.get("page"))
        products = DataProduct.objects.restrict(user, policy.VIEW).filter(kpis__isnull=False).distinct()
        owners = get_user_model().objects.filter(owned_kpis__in=visible).distinct().order_by("username")
        listed = list(page.object_list)
        cards = cards_for(listed)  # three queries for the whole page
        query = request.GET.copy()
        query.pop("page", None)
        context.update(
            metrics=[metric_of(kpi, user, cards[kpi.pk]) for kpi in listed],
            page_obj=page,
            page_query=f"{query.urlencode()}&" if query else "",
            total=page.paginator.count,
            selected={name: request.GET.get(name, "") for name in FILTERS},
            is_filtered=any(request.GET.get(name) for name in FILTERS),
            products=list(products.order_by("name").values_list("slug", "name")),
            domains=list(
                Domain.objects.filter(products__in=products).distinct().order_by("name").values_list("slug", "name")
            ),
            owners=[(person.username, person.get_full_name() or person.username) for person in owners],
            levels=KPILevel.choices,
            statuses=KPIStatus.choices,
            indicators=IndicatorType.choices,
        )
        return context
