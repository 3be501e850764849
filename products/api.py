"""The product spec over the REST API: products, their parts, and the reference data they use.

Every viewset asks the access policy through its base class (``access.api``); these
only say which queryset, serializer and filters each endpoint uses.
"""

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view

from access.api import ReadOnlyViewSet, ReferenceDataViewSet, RestrictedModelViewSet
from utilities.api import SLUG_URL_PATTERN

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


@extend_schema(tags=["products"])
@extend_schema_view(
    list=extend_schema(summary="Search and list the products you may see"),
    retrieve=extend_schema(summary="The whole spec of one product"),
    create=extend_schema(summary="Create a product (product managers and admins)"),
    update=extend_schema(summary="Change a product (its owner, stewards and admins)"),
    partial_update=extend_schema(summary="Change some fields of a product"),
    destroy=extend_schema(summary="Delete a product (its owner and admins)"),
)
class DataProductViewSet(RestrictedModelViewSet):
    """Data products: everyone signed in sees published ones; drafts stay with their owner, stewards and admins.

    The list filters by ``search``, ``domain``, ``tag``, ``status`` and ``owner``; a product's
    page (``/products/<slug>/``) carries its whole spec, whose parts are written through their
    own endpoints.
    """

    queryset = DataProduct.objects.all()
    lookup_field = "slug"
    lookup_value_regex = SLUG_URL_PATTERN
    filterset_class = filters.DataProductFilter

    def get_serializer_class(self):
        if self.action == "list":
            return serializers.DataProductSerializer
        return serializers.DataProductDetailSerializer

    def perform_update(self, serializer: serializers.DataProductDetailSerializer) -> None:
        # Handing a product to a new owner is the owner's right, even if it leaves them without access.
        owner = serializer.validated_data.get("owner", serializer.instance.owner)
        self.save_within_reach(serializer, check_reach=owner == serializer.instance.owner)

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset().select_related("domain", "owner").prefetch_related(*CARD_PREFETCHES)
        if self.action == "list":
            return queryset.defer("vision", "search_text")
        if self.action == "destroy":
            return queryset
        return queryset.select_related("north_star").prefetch_related(*SPEC_PREFETCHES)


@extend_schema(tags=["domains"])
class DomainViewSet(ReferenceDataViewSet):
    """Business domains. Everyone signed in reads them; admins write them."""

    queryset = Domain.objects.all()
    serializer_class = serializers.DomainSerializer
    lookup_field = "slug"
    lookup_value_regex = SLUG_URL_PATTERN


@extend_schema(tags=["tags"])
class TagViewSet(ReferenceDataViewSet):
    """Tags, named by lower-case words. Product managers and admins add them; admins change them."""

    queryset = Tag.objects.all()
    serializer_class = serializers.TagSerializer
    lookup_field = "name"
    lookup_value_regex = SLUG_URL_PATTERN


@extend_schema(tags=["teams"])
class TeamViewSet(ReadOnlyViewSet):
    """Teams that consume products."""

    queryset = Team.objects.all()
    serializer_class = serializers.TeamSerializer
    lookup_field = "slug"
    lookup_value_regex = SLUG_URL_PATTERN


# --- Parts of the spec: seen with their product, changed by whoever may change it -----------


@extend_schema(tags=["goals"])
class GoalViewSet(RestrictedModelViewSet):
    """Goals: quantifiable targets that deliver on a product's vision."""

    queryset = Goal.objects.select_related("product")
    serializer_class = serializers.GoalSerializer
    filterset_class = filters.GoalFilter


@extend_schema(tags=["initiatives"])
class InitiativeViewSet(RestrictedModelViewSet):
    """Initiatives: approaches that serve one or more goals of the same product."""

    queryset = Initiative.objects.select_related("product").prefetch_related("goals")
    serializer_class = serializers.InitiativeSerializer
    filterset_class = filters.InitiativeFilter


@extend_schema(tags=["hypotheses"])
class HypothesisViewSet(RestrictedModelViewSet):
    """Hypotheses: we believe that *initiative* will help achieve *goal*."""

    queryset = Hypothesis.objects.select_related("product")
    serializer_class = serializers.HypothesisSerializer
    filterset_class = filters.HypothesisFilter


@extend_schema(tags=["use cases"])
class UseCaseViewSet(RestrictedModelViewSet):
    """Use cases: practical applications of a product, linked to its hypotheses."""

    queryset = UseCase.objects.select_related("product").prefetch_related("hypotheses")
    serializer_class = serializers.UseCaseSerializer
    filterset_class = filters.UseCaseFilter


@extend_schema(tags=["usage patterns"])
class UsagePatternViewSet(RestrictedModelViewSet):
    """Usage patterns: who uses a product, how often, and what they need of the data."""

    queryset = UsagePattern.objects.select_related("product")
    serializer_class = serializers.UsagePatternSerializer
    filterset_class = filters.UsagePatternFilter


@extend_schema(tags=["outputs"])
class OutputViewSet(RestrictedModelViewSet):
    """Output ports: files under the data root or tables behind a connection, with their columns.

    Writing ``columns`` replaces the whole list, in the same transaction."""

    queryset = Output.objects.select_related("product", "connection").prefetch_related("columns")
    serializer_class = serializers.OutputSerializer
    filterset_class = filters.OutputFilter


@extend_schema(tags=["KPIs"])
class KPIViewSet(RestrictedModelViewSet):
    """KPIs: the nodes of a product's KPI tree and how each is calculated over an output."""

    queryset = KPI.objects.select_related("product", "owner").prefetch_related("goals")
    serializer_class = serializers.KPISerializer
    filterset_class = filters.KPIFilter


@extend_schema(tags=["SLOs"])
class SLOViewSet(RestrictedModelViewSet):
    """SLOs: the share of good measurements of an indicator over a rolling window."""

    queryset = SLO.objects.select_related("product")
    serializer_class = serializers.SLOSerializer
    filterset_class = filters.SLOFilter


@extend_schema(tags=["inputs"])
class ProductInputViewSet(RestrictedModelViewSet):
    """Inputs: where a product's data comes from (another product's output, or an external source)."""

    queryset = ProductInput.objects.select_related("product", "source_output__product")
    serializer_class = serializers.ProductInputSerializer
    filterset_class = filters.ProductInputFilter
