"""The product spec over the REST API: products, their parts, and the reference data they use.

Every viewset asks the access policy through its base class (``access.api``); these
only say which queryset, serializer and filters each endpoint uses.
"""

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view

from access.api import ReadOnlyViewSet, ReferenceDataViewSet, RestrictedModelViewSet

from . import filters, serializers
from .models import (
    KPI,
    SLO,
    DataProduct,
    Domain,
    Goal,
    Hypothesis,
    Initiative,
    Output,
    ProductInput,
    Tag,
    Team,
    UsagePattern,
    UseCase,
)

# What the product list shows, in a constant number of queries.
CARD_PREFETCHES = [
    "tags",
    Prefetch("stewards", queryset=get_user_model().objects.order_by("username")),
    "consumer_teams",
]
# The whole spec of a product, in a constant number of queries whatever its size.
SPEC_PREFETCHES = [
    "goals",
    "initiatives__goals",
    "hypotheses",
    "use_cases__hypotheses",
    "usage_patterns",
    Prefetch("outputs", queryset=Output.objects.select_related("connection").prefetch_related("columns")),
    Prefetch("kpis", queryset=KPI.objects.select_related("owner").prefetch_related("goals")),
    "slos",
    Prefetch("inputs", queryset=ProductInput.objects.select_related("source_output__product")),
]


@extend_schema_view(
    list=extend_schema(summary="Search and list the products you may see"),
    retrieve=extend_schema(summary="The whole spec of one product"),
    create=extend_schema(summary="Create a product (product managers and admins)"),
    update=extend_schema(summary="Change a product (its owner, stewards and admins)"),
    partial_update=extend_schema(summary="Change some fields of a product"),
    destroy=extend_schema(summary="Delete a product (its owner and admins)"),
)
class DataProductViewSet(RestrictedModelViewSet):
    queryset = DataProduct.objects.all()
    lookup_field = "slug"
    filterset_class = filters.DataProductFilter

    def get_serializer_class(self):
        if self.action == "list":
            return serializers.DataProductSerializer
        return serializers.DataProductDetailSerializer

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset().select_related("domain", "owner").prefetch_related(*CARD_PREFETCHES)
        if self.action in ("list", "destroy"):
            return queryset
        return queryset.select_related("north_star").prefetch_related(*SPEC_PREFETCHES)


class DomainViewSet(ReferenceDataViewSet):
    queryset = Domain.objects.all()
    serializer_class = serializers.DomainSerializer
    lookup_field = "slug"


class TagViewSet(ReferenceDataViewSet):
    queryset = Tag.objects.all()
    serializer_class = serializers.TagSerializer
    lookup_field = "name"


class TeamViewSet(ReadOnlyViewSet):
    queryset = Team.objects.all()
    serializer_class = serializers.TeamSerializer
    lookup_field = "slug"


# --- Parts of the spec: seen with their product, changed by whoever may change it -----------


class GoalViewSet(RestrictedModelViewSet):
    queryset = Goal.objects.select_related("product")
    serializer_class = serializers.GoalSerializer
    filterset_class = filters.GoalFilter


class InitiativeViewSet(RestrictedModelViewSet):
    queryset = Initiative.objects.select_related("product").prefetch_related("goals")
    serializer_class = serializers.InitiativeSerializer
    filterset_class = filters.InitiativeFilter


class HypothesisViewSet(RestrictedModelViewSet):
    queryset = Hypothesis.objects.select_related("product")
    serializer_class = serializers.HypothesisSerializer
    filterset_class = filters.HypothesisFilter


class UseCaseViewSet(RestrictedModelViewSet):
    queryset = UseCase.objects.select_related("product").prefetch_related("hypotheses")
    serializer_class = serializers.UseCaseSerializer
    filterset_class = filters.UseCaseFilter


class UsagePatternViewSet(RestrictedModelViewSet):
    queryset = UsagePattern.objects.select_related("product")
    serializer_class = serializers.UsagePatternSerializer
    filterset_class = filters.UsagePatternFilter


class OutputViewSet(RestrictedModelViewSet):
    queryset = Output.objects.select_related("product", "connection").prefetch_related("columns")
    serializer_class = serializers.OutputSerializer
    filterset_class = filters.OutputFilter


class KPIViewSet(RestrictedModelViewSet):
    queryset = KPI.objects.select_related("product", "owner").prefetch_related("goals")
    serializer_class = serializers.KPISerializer
    filterset_class = filters.KPIFilter


class SLOViewSet(RestrictedModelViewSet):
    queryset = SLO.objects.select_related("product")
    serializer_class = serializers.SLOSerializer
    filterset_class = filters.SLOFilter


class ProductInputViewSet(RestrictedModelViewSet):
    queryset = ProductInput.objects.select_related("product", "source_output__product")
    serializer_class = serializers.ProductInputSerializer
    filterset_class = filters.ProductInputFilter
