"""The product spec over the REST API: products, their parts, and the reference data they use.

Every viewset asks the access policy through its base class (``access.api``); these
only say which queryset, serializer and filters each endpoint uses.
"""

import math
from functools import partial

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import exceptions, renderers, status
from rest_framework import serializers as drf_serializers
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from access import policy
from access.api import ReadOnlyViewSet, ReferenceDataViewSet, RestrictedModelViewSet
from utilities.api import SLUG_URL_PATTERN

from . import delivery, filters, lifecycle, lineage, review, serializers, versions
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
    Prefetch("kpis", queryset=KPI.objects.select_related("owner").prefetch_related("goals", "counter_metrics")),
    "slos",
    Prefetch("inputs", queryset=ProductInput.objects.select_related("source_output__product")),
]


LINEAGE_GRAPH = inline_serializer(
    "LineageGraph",
    {
        "product": drf_serializers.SlugField(),
        "nodes": inline_serializer(
            "LineageNode",
            {
                "id": drf_serializers.CharField(help_text="product:<slug>, output:<id> or external:<name>"),
                "kind": drf_serializers.ChoiceField(choices=[lineage.PRODUCT, lineage.OUTPUT, lineage.EXTERNAL]),
                "name": drf_serializers.CharField(),
                "depth": drf_serializers.IntegerField(help_text="0 for the product, negative upstream."),
                "slug": drf_serializers.SlugField(required=False, help_text="Products only."),
                "status": drf_serializers.CharField(required=False, help_text="Products only."),
                "url": drf_serializers.CharField(required=False, help_text="Products only: the page."),
                "output_id": drf_serializers.IntegerField(required=False, help_text="Outputs only."),
                "product": drf_serializers.SlugField(required=False, help_text="Outputs only: the product's slug."),
            },
            many=True,
        ),
        "edges": inline_serializer(
            "LineageEdge",
            {
                "from": drf_serializers.CharField(),
                "to": drf_serializers.CharField(),
                "kind": drf_serializers.ChoiceField(choices=[lineage.PRODUCES, lineage.READS]),
            },
            many=True,
        ),
        "hidden": drf_serializers.IntegerField(help_text="Products left out because you may not see them."),
    },
)
OUTPUT_IMPACT = inline_serializer(
    "OutputImpact",
    {
        "output": inline_serializer(
            "OutputReference",
            {
                "id": drf_serializers.IntegerField(),
                "name": drf_serializers.CharField(),
                "product": drf_serializers.SlugField(),
            },
        ),
        "readers": inline_serializer(
            "OutputReader",
            {
                "product": drf_serializers.SlugField(),
                "name": drf_serializers.CharField(),
                "status": drf_serializers.CharField(),
                "owner": inline_serializer(
                    "ReaderOwner",
                    {
                        "username": drf_serializers.CharField(),
                        "name": drf_serializers.CharField(),
                        "email": drf_serializers.EmailField(),
                    },
                ),
                "columns": drf_serializers.ListField(child=drf_serializers.CharField()),
                "all_columns": drf_serializers.BooleanField(help_text="No columns declared: assume it reads all."),
            },
            many=True,
        ),
        "hidden": drf_serializers.IntegerField(help_text="Reading products you may not see."),
    },
)


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
        save_spec(
            self.request.user,
            serializer.instance,
            lambda: self.save_within_reach(serializer, check_reach=owner == serializer.instance.owner),
        )

    def get_queryset(self) -> QuerySet:
        if self.action in ("lineage", "lifecycle"):
            return super().get_queryset().select_related("owner", "replaced_by").prefetch_related("outputs")
        queryset = super().get_queryset().select_related("domain", "owner").prefetch_related(*CARD_PREFETCHES)
        if self.action == "list":
            return queryset.defer("vision", "search_text")
        if self.action == "destroy":
            return queryset
        return queryset.select_related("north_star", "replaced_by").prefetch_related(*SPEC_PREFETCHES)

    @extend_schema(
        summary="The product's lineage: its sources upstream and its readers downstream",
        description=(
            "Nodes (products, outputs, external sources) and edges (`produces`: a product to its output; "
            "`reads`: an output or external source to the product reading it), to `depth` steps up, down or both. "
            "Products you may not see are left out and counted in `hidden`; the walk does not go past them."
        ),
        parameters=[
            OpenApiParameter(
                "depth", int, description=f"Steps from the product, 1 to {lineage.MAX_DEPTH} (default 2)."
            ),
            OpenApiParameter("direction", str, enum=list(lineage.DIRECTIONS), description="Default: both."),
        ],
        responses={
            200: LINEAGE_GRAPH,
            400: OpenApiResponse(description="depth or direction is not valid; the error names it."),
            404: OpenApiResponse(description="No such product, or one you may not see."),
        },
    )
    @action(detail=True, methods=["get"], url_path="lineage")
    def lineage(self, request, slug=None):
        product = self.get_object()
        try:
            depth, direction = lineage.parse_params(request.query_params)
        except ValueError as exc:
            name, message = exc.args
            raise exceptions.ValidationError({name: [message]}) from None
        return Response(lineage.build(product, request.user, depth, direction).as_dict())

    @extend_schema(
        summary="Move the product along its lifecycle (publish, deprecate, retire, undo a deprecation)",
        description=(
            "draft → published → deprecated → retired; deprecated → published undoes a deprecation; retired is "
            "final. Deprecating needs `sunset_date` (today or later) and may name `replaced_by`. Whoever may change "
            "the product may move it; only its owner or an admin retires it. Deprecating or retiring emails the "
            "owners of the products that read its outputs."
        ),
        request=serializers.LifecycleSerializer,
        responses={
            200: serializers.DataProductSerializer,
            400: OpenApiResponse(description="The move is not allowed or a field is not valid; the error names it."),
            403: OpenApiResponse(description="You may see the product but not make this move."),
            404: OpenApiResponse(description="No such product, or one you may not see."),
        },
    )
    @action(detail=True, methods=["post"], url_path="lifecycle")
    def lifecycle(self, request, slug=None):
        product = self.get_object()
        policy.require(request.user, policy.CHANGE, product)
        given = serializers.LifecycleSerializer(data=request.data, context=self.get_serializer_context())
        given.is_valid(raise_exception=True)
        try:
            lifecycle.change_status(product, by=request.user, **given.validated_data)
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(exc.message_dict) from None
        except DjangoPermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from None
        answer = serializers.DataProductSerializer(product, context=self.get_serializer_context())
        return Response(answer.data)


class SentForReview(exceptions.APIException):
    status_code = status.HTTP_202_ACCEPTED
    default_code = "sent_for_review"

    def __init__(self, change) -> None:
        super().__init__(f"Changes to this product go through review: sent as change request {change.pk}.")
        self.change = change


def save_spec(user, product, save) -> None:
    """A write to a spec: a change request if the user's changes need review, else saved under the semver rule."""
    try:
        if product is not None and review.must_review(product, user):
            raise SentForReview(review.propose(product, user, save, "Changed through the API"))
        if product is None:
            save()
        else:
            versions.within_semver(product, save)
    except DjangoValidationError as exc:  # a breaking change without a bump (semver.BreakingChange), or no change
        raise exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages) from None


def spec_product_in(data: dict) -> DataProduct | None:
    """The product a part's payload names: its ``product``, or its output's (a check follows its output)."""
    product = data.get("product")
    if product is None and data.get("output") is not None:
        product = data["output"].product
    return product


class SpecPartWrites:
    """Creating, changing and deleting a part of a product's spec go through ``save_spec``.

    Mixed in before ``RestrictedModelViewSet``: a steward's write to a product under review becomes a
    change request (202), anyone else's is saved under the semver rule (400 for a breaking change without
    a major bump). The base class's permission and reach checks still run, inside the save.
    """

    def perform_create(self, serializer) -> None:
        self.require_may_add(serializer.validated_data)  # refused before any change request is opened
        product = spec_product_in(serializer.validated_data)
        save_spec(self.request.user, product, partial(super().perform_create, serializer))

    def perform_update(self, serializer) -> None:
        user, product = self.request.user, serializer.instance.product
        save = partial(super().perform_update, serializer)
        target = spec_product_in(serializer.validated_data)
        if target is not None and target.pk != product.pk:  # a check moved to another product's output
            if review.must_review(product, user) or review.must_review(target, user):
                message = "This moves the check to a product under review: delete it here and add it there."
                raise exceptions.ValidationError({"output": [message]})
            save = partial(save_spec, user, target, save)
        save_spec(user, product, save)

    def perform_destroy(self, instance) -> None:
        save_spec(self.request.user, instance.product, partial(super().perform_destroy, instance))


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
class GoalViewSet(SpecPartWrites, RestrictedModelViewSet):
    """Goals: quantifiable targets that deliver on a product's vision."""

    queryset = Goal.objects.select_related("product")
    serializer_class = serializers.GoalSerializer
    filterset_class = filters.GoalFilter


@extend_schema(tags=["initiatives"])
class InitiativeViewSet(SpecPartWrites, RestrictedModelViewSet):
    """Initiatives: approaches that serve one or more goals of the same product."""

    queryset = Initiative.objects.select_related("product").prefetch_related("goals")
    serializer_class = serializers.InitiativeSerializer
    filterset_class = filters.InitiativeFilter


@extend_schema(tags=["hypotheses"])
class HypothesisViewSet(SpecPartWrites, RestrictedModelViewSet):
    """Hypotheses: we believe that *initiative* will help achieve *goal*."""

    queryset = Hypothesis.objects.select_related("product")
    serializer_class = serializers.HypothesisSerializer
    filterset_class = filters.HypothesisFilter


@extend_schema(tags=["use cases"])
class UseCaseViewSet(SpecPartWrites, RestrictedModelViewSet):
    """Use cases: practical applications of a product, linked to its hypotheses."""

    queryset = UseCase.objects.select_related("product").prefetch_related("hypotheses")
    serializer_class = serializers.UseCaseSerializer
    filterset_class = filters.UseCaseFilter


@extend_schema(tags=["usage patterns"])
class UsagePatternViewSet(SpecPartWrites, RestrictedModelViewSet):
    """Usage patterns: who uses a product, how often, and what they need of the data."""

    queryset = UsagePattern.objects.select_related("product")
    serializer_class = serializers.UsagePatternSerializer
    filterset_class = filters.UsagePatternFilter


# --- An output's rows: GET /api/v1/outputs/<id>/data/ ------------------------------------------

DEFAULT_DATA_LIMIT = 100
MAX_DATA_LIMIT = 10_000
MAX_DATA_OFFSET = 10**12


class CSVRenderer(renderers.BaseRenderer):
    """Lets ``?format=csv`` through DRF's content negotiation; the rows themselves are streamed by the action."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        raise NotImplementedError("CSV is streamed by the data action; errors are rendered as JSON.")


class SourceUnavailable(exceptions.APIException):
    """The output's data cannot be read now (a missing file, a database down): the output's state, not the hub's
    fault, hence a 409 rather than a 5xx."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = delivery.UNREADABLE
    default_code = "source_unavailable"


def whole_number(params, name: str, default: int, minimum: int, maximum: int) -> int:
    raw = params.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise exceptions.ValidationError({name: f"{name} must be a whole number."}) from None
    if not minimum <= value <= maximum:
        raise exceptions.ValidationError({name: f"{name} must be between {minimum} and {maximum}."})
    return value


def json_safe(row: dict) -> dict:
    """NaN and infinities as null: strict JSON has no such numbers."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}


DATA_PARAMETERS = [
    OpenApiParameter("format", str, enum=["json", "csv"], description="json (a page of rows) or csv (streamed)."),
    OpenApiParameter("limit", int, description=f"Rows per page, 1 to {MAX_DATA_LIMIT} (default {DEFAULT_DATA_LIMIT})."),
    OpenApiParameter("offset", int, description="Rows to skip (default 0)."),
    OpenApiParameter("columns", str, description="Comma-separated column names (default: all)."),
    OpenApiParameter("sort", str, description="Comma-separated columns, -column for descending; not masked ones."),
    OpenApiParameter("filter", str, many=True, description="column:value equality, repeatable, ANDed."),
]
DATA_PAGE = inline_serializer(
    "OutputDataPage",
    {
        "count": drf_serializers.IntegerField(),
        "next": drf_serializers.URLField(allow_null=True),
        "previous": drf_serializers.URLField(allow_null=True),
        "columns": inline_serializer(
            "OutputDataColumn",
            {
                "name": drf_serializers.CharField(),
                "data_type": drf_serializers.CharField(),
                "masked": drf_serializers.BooleanField(),
            },
            many=True,
        ),
        "masked": drf_serializers.BooleanField(),
        "row_filtered": drf_serializers.BooleanField(),
        "results": drf_serializers.ListField(child=drf_serializers.DictField()),
    },
)


@extend_schema(tags=["outputs"])
class OutputViewSet(SpecPartWrites, RestrictedModelViewSet):
    """Output ports: files under the data root or tables behind a connection, with their columns.

    Writing ``columns`` replaces the whole list, in the same transaction. ``data/`` reads the rows."""

    queryset = Output.objects.select_related("product", "connection").prefetch_related("columns")
    serializer_class = serializers.OutputSerializer
    filterset_class = filters.OutputFilter

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        if self.action == "data":  # its query parameters are the read's, not the list's filters
            return queryset
        return super().filter_queryset(queryset)

    def perform_content_negotiation(self, request, force=False):
        wanted = request.query_params.get("format")
        if not force and self.action == "data" and wanted not in (None, "json", "csv"):
            raise exceptions.ValidationError({"format": "format must be json or csv."})
        return super().perform_content_negotiation(request, force)

    def finalize_response(self, request, response, *args, **kwargs):
        # An error asked for as CSV (format=csv) is still answered in JSON.
        if isinstance(response, Response) and isinstance(getattr(request, "accepted_renderer", None), CSVRenderer):
            request.accepted_renderer, request.accepted_media_type = renderers.JSONRenderer(), "application/json"
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        summary="What breaks if this output changes: the products reading it, their owners and the columns read",
        description="A reader with no columns declared (`all_columns`) is assumed to read every column.",
        responses={200: OUTPUT_IMPACT, 404: OpenApiResponse(description="No such output, or one you may not see.")},
    )
    @action(detail=True, methods=["get"], url_path="impact")
    def impact(self, request, pk=None):
        return Response(lineage.impact_of_output(self.get_object(), request.user).as_dict())

    @extend_schema(
        summary="Read the output's rows (masked and row-filtered as the policy says)",
        description=(
            "The rows you may read: personal data masked unless you hold unmasked access, only the rows your "
            "row filter allows. JSON pages (count, next, previous, columns, masked, row_filtered, results) or "
            "streamed CSV. Sorting or filtering on a masked column is refused. Every read is audited."
        ),
        parameters=DATA_PARAMETERS,
        responses={
            (200, "application/json"): DATA_PAGE,
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The rows as CSV, streamed."),
            400: OpenApiResponse(description="A parameter is not valid; the error names it."),
            403: OpenApiResponse(description="You may see the output but not read it, or its product is retired."),
            404: OpenApiResponse(description="No such output, or one you may not see."),
            409: OpenApiResponse(description="The output's source could not be read."),
        },
    )
    @action(detail=True, methods=["get"], url_path="data", renderer_classes=[renderers.JSONRenderer, CSVRenderer])
    def data(self, request, pk=None):
        output = self.get_object()
        params = request.query_params
        limit = whole_number(params, "limit", DEFAULT_DATA_LIMIT, 1, MAX_DATA_LIMIT)
        offset = whole_number(params, "offset", 0, 0, MAX_DATA_OFFSET)
        try:
            read_plan = delivery.plan(
                request.user,
                output,
                columns=params.get("columns"),
                sort=params.get("sort"),
                filters=params.getlist("filter"),
            )
        except DjangoValidationError as exc:
            raise exceptions.ValidationError(exc.message_dict) from None
        if params.get("format") == "csv":
            stream = delivery.RowStream(read_plan, delivery.API)
            response = StreamingHttpResponse(delivery.csv_chunks(stream), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{output.product.slug}-{output.name}.csv"'
            return response
        return Response(self.data_page(delivery.in_key_order(read_plan), limit, offset))

    def data_page(self, read_plan: delivery.ReadPlan, limit: int, offset: int) -> dict:
        try:
            count = delivery.count_rows(read_plan)
            stream = delivery.RowStream(read_plan, delivery.API, limit=limit, offset=offset)
            rows = [json_safe(row) for batch in stream for row in delivery.rows_as_dicts(batch)]
        except delivery.DeliveryError:
            raise SourceUnavailable() from None
        url = self.request.build_absolute_uri()
        following = offset + limit
        return {
            "count": count,
            "next": replace_query_param(url, "offset", following) if following < count else None,
            "previous": replace_query_param(url, "offset", max(offset - limit, 0)) if offset > 0 else None,
            "columns": [
                {"name": c.name, "data_type": c.data_type, "masked": c.name in read_plan.masking}
                for c in read_plan.columns
            ],
            "masked": read_plan.masked,
            "row_filtered": read_plan.row_filtered,
            "results": rows,
        }


@extend_schema(tags=["KPIs"])
class KPIViewSet(SpecPartWrites, RestrictedModelViewSet):
    """KPIs: the nodes of a product's KPI tree and how each is calculated over an output."""

    queryset = KPI.objects.select_related("product", "owner").prefetch_related("goals", "counter_metrics")
    serializer_class = serializers.KPISerializer
    filterset_class = filters.KPIFilter


@extend_schema(tags=["SLOs"])
class SLOViewSet(SpecPartWrites, RestrictedModelViewSet):
    """SLOs: the share of good measurements of an indicator over a rolling window."""

    queryset = SLO.objects.select_related("product")
    serializer_class = serializers.SLOSerializer
    filterset_class = filters.SLOFilter


@extend_schema(tags=["inputs"])
class ProductInputViewSet(SpecPartWrites, RestrictedModelViewSet):
    """Inputs: where a product's data comes from (another product's output, or an external source)."""

    queryset = ProductInput.objects.select_related("product", "source_output__product")
    serializer_class = serializers.ProductInputSerializer
    filterset_class = filters.ProductInputFilter
