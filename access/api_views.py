"""The access API: ``/api/v1/access-requests/`` and ``/api/v1/access-grants/``.

Thin over ``access.grants``, which checks who may act and validates the input: an output the
user may not see is a 404, one they see but may not manage a 403, bad input a 400 naming the
field. A user lists their own requests and grants, plus those on the outputs they manage.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from . import grants, policy
from .api import JSONViewSetMixin
from .filters import AccessGrantFilter, AccessRequestFilter, managed_object_ids
from .models import AccessGrant, AccessRequest
from .readable import readable_model, with_objects
from .serializers import (
    AccessGrantCreateSerializer,
    AccessGrantSerializer,
    AccessRequestCreateSerializer,
    AccessRequestSerializer,
    DecisionSerializer,
)

ERRORS = {
    400: OpenApiResponse(description="Bad input: the body names each field in error."),
    403: OpenApiResponse(description="You may see the output but not do this."),
    404: OpenApiResponse(description="No such output or request, or you may not see it."),
}


def output_or_404(user, pk: int):
    """The output with this id, if the user may see it (else a 404)."""
    model = readable_model()
    return policy.get_visible_or_404(model._default_manager.select_related("product"), user, pk=pk)


def held_or_managed(queryset: QuerySet, user, own: Q) -> QuerySet:
    """Rows that are the user's own, or about an output whose access the user manages."""
    content_type = ContentType.objects.get_for_model(readable_model())
    return queryset.filter(own | Q(content_type=content_type, object_id__in=managed_object_ids(user)))


class AccessViewSet(JSONViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [permissions.IsAuthenticated]

    def answer(self, instance, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().filter(pk=instance.pk).first() or instance
        return Response(self.get_serializer(fresh).data, status=code)

    def body(self, serializer_class) -> dict:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


@extend_schema(tags=["access"])
@extend_schema_view(
    list=extend_schema(summary="Your access requests, and those you may decide; newest first"),
    retrieve=extend_schema(summary="One access request", responses={200: AccessRequestSerializer, 404: ERRORS[404]}),
)
class AccessRequestViewSet(AccessViewSet):
    """Access requests. Filter with ``status``, ``output``, ``mine=true`` (yours) and ``to_decide=true``
    (pending requests on outputs whose access you manage)."""

    queryset = AccessRequest.objects.all()
    serializer_class = AccessRequestSerializer
    filterset_class = AccessRequestFilter

    def get_queryset(self) -> QuerySet:
        user = self.request.user
        queryset = held_or_managed(super().get_queryset(), user, Q(requester=user))
        return with_objects(queryset.select_related("requester", "decided_by", "grant"))

    @extend_schema(
        summary="Ask to read an output, masked or unmasked, for a number of days",
        request=AccessRequestCreateSerializer,
        responses={201: AccessRequestSerializer, **ERRORS},
    )
    def create(self, request, *args, **kwargs) -> Response:
        data = self.body(AccessRequestCreateSerializer)
        obj = output_or_404(request.user, data.pop("output"))
        return self.answer(grants.request_access(obj, requester=request.user, **data), status.HTTP_201_CREATED)

    @extend_schema(
        summary="Approve a pending request: the requester gets a grant for the days asked",
        request=DecisionSerializer,
        responses={200: AccessRequestSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None) -> Response:
        access_request = self.get_object()
        grants.approve(access_request, by=request.user, comment=self.body(DecisionSerializer)["comment"])
        return self.answer(access_request)

    @extend_schema(
        summary="Deny a pending request, saying why (comment required)",
        request=DecisionSerializer,
        responses={200: AccessRequestSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def deny(self, request, pk=None) -> Response:
        access_request = self.get_object()
        grants.deny(access_request, by=request.user, comment=self.body(DecisionSerializer)["comment"])
        return self.answer(access_request)

    @extend_schema(
        summary="Withdraw your own pending request", request=None, responses={200: AccessRequestSerializer, **ERRORS}
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None) -> Response:
        access_request = self.get_object()
        grants.withdraw(access_request, by=request.user)
        return self.answer(access_request)


@extend_schema(tags=["access"])
@extend_schema_view(
    list=extend_schema(summary="Your grants (yours and your groups'), and grants on outputs you manage"),
    retrieve=extend_schema(summary="One access grant", responses={200: AccessGrantSerializer, 404: ERRORS[404]}),
)
class AccessGrantViewSet(AccessViewSet):
    """Access grants. Filter with ``output``, ``user``, ``group`` and ``active`` (true: in force now)."""

    queryset = AccessGrant.objects.all()
    serializer_class = AccessGrantSerializer
    filterset_class = AccessGrantFilter

    def get_queryset(self) -> QuerySet:
        user = self.request.user
        own = Q(user=user) | Q(group__in=user.groups.all())
        queryset = held_or_managed(super().get_queryset(), user, own)
        return with_objects(queryset.select_related("user", "group", "granted_by", "revoked_by"))

    @extend_schema(
        summary="Give a user or a group reading an output (access managers)",
        request=AccessGrantCreateSerializer,
        responses={201: AccessGrantSerializer, **ERRORS},
    )
    def create(self, request, *args, **kwargs) -> Response:
        data = self.body(AccessGrantCreateSerializer)
        obj = output_or_404(request.user, data.pop("output"))
        holder = holder_in(data)
        return self.answer(grants.grant(obj, by=request.user, **holder, **data), status.HTTP_201_CREATED)

    @extend_schema(summary="Revoke a grant now", request=None, responses={200: AccessGrantSerializer, **ERRORS})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None) -> Response:
        grant = self.get_object()
        grants.revoke(grant, by=request.user)
        return self.answer(grant)


def holder_in(data: dict) -> dict:
    """Take the holder out of a grant's body: ``{"user": <User>}`` or ``{"group": <Group>}``."""
    username, group_name = data.pop("user", ""), data.pop("group", "")
    return {"user": named_user(username)} if username else {"group": named_group(group_name)}


def named_user(username: str):
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise exceptions.ValidationError({"user": f"No active user is named {username!r}."})
    return user


def named_group(name: str) -> Group:
    group = Group.objects.filter(name=name).first()
    if group is None:
        raise exceptions.ValidationError({"group": f"No group is named {name!r}."})
    return group
