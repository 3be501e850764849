"""Query filters for the access API: requests by status, mine or to decide; grants by output, user, state."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import QuerySet

from utilities.validators import no_nul

from . import policy
from .models import AccessGrant, AccessRequest, RequestStatus
from .readable import readable_model

MAX_ID = 2**63 - 1


class IdField(forms.IntegerField):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, min_value=1, max_value=MAX_ID, **kwargs)


class IdFilter(django_filters.NumberFilter):
    field_class = IdField


class StrictBooleanField(forms.Field):
    """``true`` or ``false``; anything else is a 400 naming the parameter."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).lower()
        if text in {"true", "1"}:
            return True
        if text in {"false", "0"}:
            return False
        raise forms.ValidationError("Enter true or false.")


class StrictBooleanFilter(django_filters.Filter):
    field_class = StrictBooleanField


class TextField(forms.CharField):
    """Text without NUL bytes (PostgreSQL refuses them in a query)."""

    default_validators = [no_nul]


class TextFilter(django_filters.CharFilter):
    field_class = TextField


def managed_object_ids(user) -> QuerySet:
    """Ids of the outputs whose access ``user`` manages and may see."""
    model = readable_model()
    return policy.restrict(policy.managed_by(model._default_manager.all(), user), user).values("pk")


class AccessRequestFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=RequestStatus.choices)
    output = IdFilter(field_name="object_id", label="Output id")
    mine = StrictBooleanFilter(method="filter_mine", label="Only my own requests")
    to_decide = StrictBooleanFilter(method="filter_to_decide", label="Only pending requests I may decide")

    class Meta:
        model = AccessRequest
        fields = []

    def filter_mine(self, queryset, name: str, value: bool | None):
        if value is None:
            return queryset
        user = self.request.user
        return queryset.filter(requester=user) if value else queryset.exclude(requester=user)

    def filter_to_decide(self, queryset, name: str, value: bool | None):
        if not value:
            return queryset
        user = self.request.user
        decidable = queryset.filter(status=RequestStatus.PENDING, object_id__in=managed_object_ids(user))
        return decidable if user.is_superuser else decidable.exclude(requester=user)


class AccessGrantFilter(django_filters.FilterSet):
    output = IdFilter(field_name="object_id", label="Output id")
    user = TextFilter(field_name="user__username", label="Holder's username")
    group = TextFilter(field_name="group__name", label="Holder group's name")
    active = StrictBooleanFilter(method="filter_active", label="Only grants in force (true) or ended (false)")

    class Meta:
        model = AccessGrant
        fields = []

    def filter_active(self, queryset, name: str, value: bool | None):
        if value is None:
            return queryset
        active = AccessGrant.objects.active().values("pk")
        return queryset.filter(pk__in=active) if value else queryset.exclude(pk__in=active)
