"""The quality API: checks and "run now", their runs, SLOs with their figures, incidents.

Every viewset asks the access policy through its base class (``access.api``): checks, runs and
incidents are seen with their product and acted on by whoever may change it. Custom SQL checks
are for admins only (``Check.may_be_edited_by``).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import OuterRef, Prefetch, QuerySet, Subquery
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, status
from rest_framework.decorators import action
from rest_framework.response import Response

from access import policy
from access.api import ActPermission, RestrictedModelViewSet, RestrictedReadOnlyViewSet
from products.api import SLOViewSet, SpecPartWrites

from . import filters, incidents, runs, serializers
from .models import CUSTOM_SQL, Check, CheckRun, Incident, IncidentEvent, SLOEvaluation


def latest_of(model, parent: str, order: list[str]) -> QuerySet:
    """The newest row of ``model`` for each ``parent``: prefetched in one query for a whole page of parents."""
    newest = model.objects.filter(**{parent: OuterRef(parent)}).order_by(*order).values("pk")[:1]
    return model.objects.filter(pk=Subquery(newest))


LATEST_RUN = Prefetch(
    "runs", queryset=latest_of(CheckRun, "quality_check", CheckRun._meta.ordering), to_attr="latest_runs"
)
LATEST_EVALUATION = Prefetch(
    "evaluations", queryset=latest_of(SLOEvaluation, "slo", SLOEvaluation._meta.ordering), to_attr="latest_evaluations"
)


# --- Checks --------------------------------------------------------------------------------


def require_may_edit(user, check: Check) -> None:
    """403 unless the user may write this check: change its product, and be an admin for custom SQL."""
    if check.may_be_edited_by(user):
        return
    if check.check_type == CUSTOM_SQL and policy.can(user, policy.CHANGE, check.output.product):
        raise exceptions.PermissionDenied("Only admins may create, change or delete custom SQL checks.")
    raise exceptions.PermissionDenied("You may not change the checks of this data product.")


class CheckPermission(ActPermission):
    """Writing a check (custom SQL: admins only) asks ``Check.may_be_edited_by``; running one, change permission."""

    def has_object_permission(self, request, view, obj: Check) -> bool:
        if not super().has_object_permission(request, view, obj):
            return False
        if request.method in {"PUT", "PATCH", "DELETE"}:
            require_may_edit(request.user, obj)
        return True


@extend_schema(tags=["checks"])
@extend_schema_view(
    list=extend_schema(summary="List the checks you may see"),
    create=extend_schema(summary="Add a check to an output (its product's editors; custom SQL: admins)"),
    update=extend_schema(summary="Change a check"),
    partial_update=extend_schema(summary="Change some fields of a check"),
    destroy=extend_schema(summary="Delete a check"),
)
class CheckViewSet(SpecPartWrites, RestrictedModelViewSet):
    """Quality checks on outputs: seen with their product, written by whoever may change it (through change
    review and the semver rule, as every part of a spec).

    The list filters by ``product`` (slug), ``output``, ``check_type``, ``enabled`` and ``severity``.
    """

    queryset = Check.objects.select_related("product", "output__product").prefetch_related("slos", LATEST_RUN)
    serializer_class = serializers.CheckSerializer
    filterset_class = filters.CheckFilter
    permission_classes = [CheckPermission]

    def perform_create(self, serializer: serializers.CheckSerializer) -> None:
        data = serializer.validated_data
        require_may_edit(self.request.user, Check(output=data["output"], check_type=data["check_type"]))
        super().perform_create(serializer)

    def perform_update(self, serializer: serializers.CheckSerializer) -> None:
        data, check = serializer.validated_data, serializer.instance
        changed = Check(output=data.get("output", check.output), check_type=data.get("check_type", check.check_type))
        require_may_edit(self.request.user, changed)  # the check as it would be: another output, or custom SQL
        super().perform_update(serializer)

    @extend_schema(
        summary="Run this check now, on a worker",
        request=None,
        responses={202: serializers.CheckRunSerializer(many=True)},
    )
    @action(detail=True, methods=["post"])
    def run(self, request, pk=None) -> Response:
        """Queue a run of this check for the current second; answers with the pending run."""
        check = self.get_object()
        try:
            pending = runs.run_now(request.user, check.output, [check])
        except DjangoValidationError:
            if check.enabled:
                raise
            raise exceptions.ValidationError({"enabled": ["This check is disabled; enable it to run it."]}) from None
        return Response(serializers.CheckRunSerializer(pending, many=True).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["check runs"])
@extend_schema_view(
    list=extend_schema(summary="Runs of the checks you may see, newest first"),
    retrieve=extend_schema(summary="One run of a check"),
)
class CheckRunViewSet(RestrictedReadOnlyViewSet):
    """Check runs, newest first. Filter by ``product`` (slug), ``check``, ``output``, ``status`` (repeat for
    several: ``?status=fail&status=warn``) and ``scheduled_after`` / ``scheduled_before`` (ISO 8601)."""

    queryset = CheckRun.objects.select_related("quality_check__product")
    serializer_class = serializers.CheckRunSerializer
    filterset_class = filters.CheckRunFilter


# --- SLOs ----------------------------------------------------------------------------------


@extend_schema(tags=["SLOs"])
class QualitySLOViewSet(SLOViewSet):
    """SLOs, with the figures of their latest evaluation (state ``unknown`` and empty figures until
    there is a measurement) and the checks that measure them; their history at ``…/<id>/history/``."""

    serializer_class = serializers.QualitySLOSerializer

    def get_queryset(self) -> QuerySet:
        checks = Prefetch("checks", queryset=Check.objects.order_by("pk").only("pk"))
        return super().get_queryset().prefetch_related(LATEST_EVALUATION, checks)

    @extend_schema(
        summary="The SLO's evaluations, newest first",
        filters=False,
        parameters=[
            OpenApiParameter("since", OpenApiTypes.DATETIME, description="Evaluated at or after (ISO 8601)."),
            OpenApiParameter("until", OpenApiTypes.DATETIME, description="Evaluated at or before (ISO 8601)."),
        ],
        responses=serializers.SLOEvaluationSerializer(many=True),
    )
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None) -> Response:
        """The SLO's evaluations over time, newest first, optionally between ``since`` and ``until``."""
        slo = self.get_object()
        found = filters.SLOEvaluationFilter(request.query_params, queryset=slo.evaluations.all())
        if not found.is_valid():
            raise exceptions.ValidationError(found.errors)
        page = self.paginate_queryset(found.qs)
        return self.get_paginated_response(serializers.SLOEvaluationSerializer(page, many=True).data)


# --- Incidents -----------------------------------------------------------------------------


@extend_schema(tags=["incidents"])
@extend_schema_view(
    list=extend_schema(summary="Incidents of the products you may see, newest first"),
    retrieve=extend_schema(summary="One incident with its timeline"),
)
class IncidentViewSet(RestrictedReadOnlyViewSet):
    """Incidents: a failing check or a breached SLO. Filter by ``product`` (slug), ``status`` (repeat for
    several), ``check`` and ``slo``. Whoever may change the product acknowledges and resolves them."""

    queryset = Incident.objects.select_related("product", "acknowledged_by", "resolved_by")
    filterset_class = filters.IncidentFilter

    def get_serializer_class(self):
        if self.action == "list":
            return serializers.IncidentSerializer
        return serializers.IncidentDetailSerializer

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset()
        if self.action == "list":
            return queryset
        return queryset.prefetch_related(Prefetch("events", queryset=IncidentEvent.objects.select_related("user")))

    @extend_schema(
        summary="Acknowledge an open incident: someone is on it",
        request=serializers.AcknowledgeSerializer,
        responses=serializers.IncidentDetailSerializer,
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None) -> Response:
        """Mark an open incident as acknowledged, with an optional note for the timeline."""
        incident = self.get_object()
        body = serializers.AcknowledgeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        incidents.acknowledge(incident, request.user, body.validated_data["note"])
        return self.answer_with(incident)

    @extend_schema(
        summary="Resolve an incident, saying why",
        request=serializers.ResolveSerializer,
        responses=serializers.IncidentDetailSerializer,
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None) -> Response:
        """Resolve an open or acknowledged incident; the reason is required and kept."""
        incident = self.get_object()
        body = serializers.ResolveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        incidents.resolve(incident, request.user, body.validated_data["reason"])
        return self.answer_with(incident)

    def answer_with(self, incident: Incident) -> Response:
        fresh = self.get_queryset().get(pk=incident.pk)
        return Response(self.get_serializer(fresh).data)
