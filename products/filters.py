"""Query filters for the product API: ``?search=…&domain=…&tag=…&status=…&owner=…``, ``?product=<slug>``.

Outputs also take ``?readable=masked|unmasked``: only those whose rows the caller may read.
"""

import django_filters

from access import policy

from .choices import Status
from .models import KPI, SLO, DataProduct, Goal, Hypothesis, Initiative, Output, ProductInput, UsagePattern, UseCase


class DataProductFilter(django_filters.FilterSet):
    """The hub's search and facets, through the queryset methods the product pages use too."""

    search = django_filters.CharFilter(
        method="filter_search", label="Words in name, slug, summary, vision, domain or tags"
    )
    domain = django_filters.CharFilter(method="filter_facet", label="Domain slug")
    tag = django_filters.CharFilter(method="filter_facet", label="Tag name")
    status = django_filters.ChoiceFilter(choices=Status.choices, method="filter_facet")
    owner = django_filters.CharFilter(method="filter_facet", label="Owner's username")

    class Meta:
        model = DataProduct
        fields = []

    def filter_search(self, queryset, name: str, value: str):
        return queryset.search(value)

    def filter_facet(self, queryset, name: str, value: str):
        return queryset.filter_facets(**{name: value})


class ProductPartFilter(django_filters.FilterSet):
    product = django_filters.CharFilter(field_name="product__slug", label="Product slug")


class GoalFilter(ProductPartFilter):
    class Meta:
        model = Goal
        fields = []


class InitiativeFilter(ProductPartFilter):
    class Meta:
        model = Initiative
        fields = []


class HypothesisFilter(ProductPartFilter):
    class Meta:
        model = Hypothesis
        fields = []


class UseCaseFilter(ProductPartFilter):
    class Meta:
        model = UseCase
        fields = []


class UsagePatternFilter(ProductPartFilter):
    class Meta:
        model = UsagePattern
        fields = []


class OutputFilter(ProductPartFilter):
    readable = django_filters.ChoiceFilter(
        choices=[(policy.MASKED, "masked"), (policy.UNMASKED, "unmasked")],
        method="filter_readable",
        label="Only outputs whose rows you may read at this level (masked includes unmasked)",
    )

    class Meta:
        model = Output
        fields = []

    def filter_readable(self, queryset, name: str, value: str):
        return policy.readable(queryset, self.request.user, value)


class KPIFilter(ProductPartFilter):
    class Meta:
        model = KPI
        fields = []


class SLOFilter(ProductPartFilter):
    class Meta:
        model = SLO
        fields = []


class ProductInputFilter(ProductPartFilter):
    class Meta:
        model = ProductInput
        fields = []
