"""The KPI series API: ``GET /api/v1/kpis/<id>/series/`` and ``POST /api/v1/kpis/<id>/compute/``.

A series is an aggregate: whoever may see the KPI's product reads it. A breakdown by a dimension
that a row filter restricts shows the reader only their members (``quality.series``). Computing
on request needs change permission on the product, as running checks does.
"""

from __future__ import annotations

from datetime import timedelta

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from access import policy
from products.choices import Grain, KPIStatus
from products.models import KPI

from . import kpi_tasks, series
from .models import KPIRun

MAX_SERIES_DAYS = 3660  # ten years of days is the most one answer holds


class SeriesQuery(serializers.Serializer):
    """The query string of a series request; an error names the parameter."""

    grain = serializers.ChoiceField(choices=Grain.values, required=False)
    dimension = serializers.CharField(required=False, allow_blank=True, max_length=100)
    member = serializers.ListField(child=serializers.CharField(max_length=300), required=False)

    def __init__(self, *args, kpi: KPI, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kpi = kpi
        # "from" is a Python keyword: declared here under its query-string name.
        self.fields["from"] = serializers.DateField(required=False)
        self.fields["to"] = serializers.DateField(required=False)

    def validate_dimension(self, value: str) -> str:
        if value and value not in (self.kpi.dimensions or []):
            known = ", ".join(self.kpi.dimensions or []) or "none"
            raise serializers.ValidationError(f"The KPI is not broken down by {value!r} (its dimensions: {known}).")
        return value

    def validate(self, attrs: dict) -> dict:
        start, end = attrs.get("from"), attrs.get("to")
        if start and end and start > end:
            raise serializers.ValidationError({"from": "The start is after the end."})
        if start and end and end - start > timedelta(days=MAX_SERIES_DAYS):
            raise serializers.ValidationError({"to": f"At most {MAX_SERIES_DAYS} days in one request."})
        if attrs.get("member") and not attrs.get("dimension"):
            raise serializers.ValidationError({"member": "Members belong to a dimension: give dimension too."})
        return attrs


def query_params(request) -> dict:
    params = {key: request.query_params.get(key) for key in ("from", "to", "grain", "dimension")}
    params = {key: value for key, value in params.items() if value is not None}
    if "member" in request.query_params:
        params["member"] = request.query_params.getlist("member")
    return params


def value_json(value: series.Value) -> dict:
    return {
        "period_start": value.period_start.isoformat(),
        "value": value.value,
        "partial": value.partial,
        "rows": value.rows,
    }


def run_json(run: KPIRun | None) -> dict | None:
    if run is None:
        return None
    return {
        "id": run.pk,
        "status": run.status,
        "trigger": run.trigger,
        "started_at": run.started_at.isoformat(),
        "duration_ms": run.duration_ms,
        "points": run.points,
        "error": run.error,
        "alert_state": run.alert_state,
    }


class KPISeriesView(APIView):
    """A KPI's stored series: the total, or one series per visible member of a dimension."""

    @extend_schema(
        tags=["KPIs"],
        summary="A KPI's time series",
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, description="First day (default: the grain's usual window)."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Last day (default: today, in the KPI time zone)."),
            OpenApiParameter("grain", OpenApiTypes.STR, enum=Grain.values, description="Default: the KPI's grain."),
            OpenApiParameter("dimension", OpenApiTypes.STR, description="One of the KPI's dimensions."),
            OpenApiParameter("member", OpenApiTypes.STR, many=True, description="Only these members (repeat)."),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request, pk: int) -> Response:
        kpi = policy.get_visible_or_404(KPI.objects.select_related("product", "output"), request.user, pk=pk)
        query = SeriesQuery(data=query_params(request), kpi=kpi)
        if not query.is_valid():
            raise ValidationError(query.errors)
        params = query.validated_data
        grain = series.grain_of(kpi, params.get("grain"))
        start, end = series.range_or_default(grain, params.get("from"), params.get("to"))
        found = series.read(
            kpi, request.user, grain=grain, start=start, end=end,
            dimension=params.get("dimension", ""), members=params.get("member"),
        )  # fmt: skip
        return Response(
            {
                "kpi": {"id": kpi.pk, "name": kpi.name, "product": kpi.product.slug, "unit": kpi.unit},
                "grain": grain,
                "from": start.isoformat(),
                "to": end.isoformat(),
                "time_zone": series.kpis.kpi_time_zone().key,
                "dimension": params.get("dimension", ""),
                "last_run": run_json(series.latest_run(kpi)),
                "series": [
                    {"member": each.member, "label": each.label, "values": [value_json(v) for v in each.values]}
                    for each in found
                ],
            }
        )


class KPIComputeView(APIView):
    """Compute a KPI's series now, in the background; answers 202 once it is queued."""

    @extend_schema(
        tags=["KPIs"], summary="Compute a KPI's series now", request=None, responses={202: OpenApiTypes.OBJECT}
    )
    def post(self, request, pk: int) -> Response:
        kpi = policy.get_visible_or_404(KPI.objects.select_related("product"), request.user, pk=pk)
        policy.require(request.user, policy.CHANGE, kpi.product)
        if not kpi.has_calculation:
            raise ValidationError(
                {"kpi": "The KPI has no calculation to compute: an output, an aggregation and a time column."}
            )
        if kpi.status != KPIStatus.ACTIVE:
            raise ValidationError({"status": "A deprecated KPI is not computed any more."})
        if not kpi_tasks.send_compute([kpi.pk], trigger="request", user_id=request.user.pk):
            return Response(
                {"detail": "The task queue cannot be reached; try again shortly."},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        return Response({"detail": "Queued.", "kpi": kpi.pk}, status=status.HTTP_202_ACCEPTED)
