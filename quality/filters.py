"""Query filters for the quality API: ``?product=<slug>``, statuses (several allowed), time ranges."""

from datetime import UTC

import django_filters
from django import forms

from .checks import type_choices
from .choices import IncidentStatus, RunStatus, Severity
from .models import Check, CheckRun, Incident, SLOEvaluation

MAX_ID = 2**63 - 1  # the largest bigint; SQLite and PostgreSQL refuse larger numbers in a query


class UTCDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 date and time, in UTC; one that cannot be expressed in UTC (year 1 at +14:00) is invalid."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class DateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeField


class IdField(forms.IntegerField):
    """A whole number ("1.5" is invalid, not rounded) that a database id column can hold."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, min_value=1, max_value=MAX_ID, **kwargs)


class IdFilter(django_filters.NumberFilter):
    field_class = IdField


class CheckFilter(django_filters.FilterSet):
    product = django_filters.CharFilter(field_name="product__slug", label="Product slug")
    output = IdFilter(field_name="output", label="Output id")
    check_type = django_filters.ChoiceFilter(choices=type_choices)
    severity = django_filters.ChoiceFilter(choices=Severity.choices)
    enabled = django_filters.BooleanFilter()

    class Meta:
        model = Check
        fields = []


class CheckRunFilter(django_filters.FilterSet):
    product = django_filters.CharFilter(field_name="quality_check__product__slug", label="Product slug")
    check = IdFilter(field_name="quality_check", label="Check id")
    output = IdFilter(field_name="quality_check__output", label="Output id")
    status = django_filters.MultipleChoiceFilter(choices=RunStatus.choices, label="Status (repeat for several)")
    scheduled_after = DateTimeFilter(field_name="scheduled_for", lookup_expr="gte", label="Scheduled at or after")
    scheduled_before = DateTimeFilter(field_name="scheduled_for", lookup_expr="lte", label="Scheduled at or before")

    class Meta:
        model = CheckRun
        fields = []


class SLOEvaluationFilter(django_filters.FilterSet):
    since = DateTimeFilter(field_name="evaluated_at", lookup_expr="gte", label="Evaluated at or after")
    until = DateTimeFilter(field_name="evaluated_at", lookup_expr="lte", label="Evaluated at or before")

    class Meta:
        model = SLOEvaluation
        fields = []


class IncidentFilter(django_filters.FilterSet):
    product = django_filters.CharFilter(field_name="product__slug", label="Product slug")
    status = django_filters.MultipleChoiceFilter(choices=IncidentStatus.choices, label="Status (repeat for several)")
    check = IdFilter(field_name="quality_check", label="Check id")
    slo = IdFilter(field_name="slo", label="SLO id")

    class Meta:
        model = Incident
        fields = []
