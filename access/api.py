"""Base classes for the REST API: every endpoint asks the access policy, nothing filters by hand.

Like NetBox's ``NetBoxModelViewSet``: the queryset is restricted to what the user may
see (anything else is a 404), writes ask the policy (403 when the object is visible but
not changeable), and after a write, inside the transaction, the saved object must still
be within the user's reach or the write is rolled back. Generic over models: nothing
here knows about data products.
"""

from __future__ import annotations

import copy
import json

from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models, transaction
from django.db.models.deletion import ProtectedError, RestrictedError
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, parsers, permissions, renderers, serializers, status, viewsets
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.pagination import PageNumberPagination
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

from access import policy
from utilities.api import SlugRelatedField, validation_error_detail

WRITE_ACTIONS = {"PUT": policy.CHANGE, "PATCH": policy.CHANGE, "DELETE": policy.DELETE}
MODEL_ACTIONS = {"POST": policy.ADD, **WRITE_ACTIONS}


# --- Transport: JSON in, JSON out, pages of results ----------------------------------------


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, also refusing lone surrogates (``"\\ud800"``), which no database can store."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc.reason}") from None
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - the document is nested too deeply.") from None
        return data


class Pagination(PageNumberPagination):
    """``?page=2&page_size=100``: count, next, previous and results."""

    page_size_query_param = "page_size"
    max_page_size = 200


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Other objects depend on this one."
    default_code = "conflict"


class JSONMixin:
    """JSON in and out (the browsable API is offered to browsers), errors included."""

    parser_classes = [JSONParser]
    renderer_classes = [renderers.JSONRenderer, renderers.BrowsableAPIRenderer]

    def handle_exception(self, exc: Exception):
        # Django refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE with a bare HTML 400; answer in JSON.
        if isinstance(exc, RequestDataTooBig):
            exc = RequestTooLarge()
        return super().handle_exception(exc)


class JSONViewSetMixin(JSONMixin):
    """JSON only, paginated, refusing deletes that would orphan other objects (409)."""

    pagination_class = Pagination

    def perform_destroy(self, instance: models.Model) -> None:
        try:
            instance.delete()
        except (ProtectedError, RestrictedError) as exc:
            kinds = sorted({str(obj._meta.verbose_name_plural) for obj in exc.protected_objects})
            message = f"Cannot delete this {instance._meta.verbose_name}: {', '.join(kinds)} depend on it."
            raise Conflict(message) from None


# --- Permissions ---------------------------------------------------------------------------


class PolicyPermission(permissions.IsAuthenticated):
    """Signed-in users only; creating a top-level object needs the model's add permission,
    changing or deleting one needs the policy's yes for that object."""

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        model = view.queryset.model
        if view.action == "create" and policy.parent_model(model) is None:
            return policy.can_add(request.user, model)
        return True

    def has_object_permission(self, request, view, obj) -> bool:
        action = WRITE_ACTIONS.get(request.method)
        return action is None or policy.can(request.user, action, obj)


class ActPermission(PolicyPermission):
    """Signed-in users read what they may see; acting on an object (a POST to one) needs change permission on it."""

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        if request.method == "POST":
            return policy.can(request.user, policy.CHANGE, obj)
        return super().has_object_permission(request, view, obj)


class ModelPermissionOrReadOnly(permissions.IsAuthenticated):
    """Reference data (domains, tags): everyone signed in reads; writes need the model permission."""

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        action = MODEL_ACTIONS.get(request.method)
        # Reads, and methods the view does not handle (answered with a 405), need no model permission.
        return action is None or policy.has_model_perm(request.user, view.queryset.model, action)


# --- Views ---------------------------------------------------------------------------------


class TokenView(JSONMixin, ObtainAuthToken):
    """Exchange a username and password for an API token, sent after as ``Authorization: Token <key>``."""

    renderer_classes = [renderers.JSONRenderer]
    # Slow down password guessing: a few tries a minute per client address.
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"

    @extend_schema(
        summary="Obtain an API token",
        request=AuthTokenSerializer,
        responses={200: inline_serializer("Token", {"token": serializers.CharField()})},
        auth=[],
        tags=["auth"],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


# --- Viewsets ------------------------------------------------------------------------------


class RestrictedModelViewSet(JSONViewSetMixin, viewsets.ModelViewSet):
    """A model viewset seen through the access policy.

    * list and lookup go through ``policy.restrict(…, "view")``: what the user may not see is a 404;
    * update and delete ask ``policy.can`` for the object: visible but not changeable is a 403;
    * create asks ``policy.can_add`` — for a child model (one with ``access_parent``), of the parent
      named in the payload, which serializers offer only among objects the user may see;
    * every write runs in a transaction and is rolled back (403) if the user could no longer see
      the saved object (as the HTML edit views do); a subclass may waive this for a write that is
      meant to give the object away (``save_within_reach(…, check_reach=False)``).
    """

    permission_classes = [PolicyPermission]

    def get_queryset(self) -> models.QuerySet:
        return policy.restrict(super().get_queryset(), self.request.user, policy.VIEW)

    def perform_create(self, serializer: serializers.ModelSerializer) -> None:
        self.require_may_add(serializer.validated_data)
        self.save_within_reach(serializer)

    def require_may_add(self, data: dict) -> None:
        """403 unless the user may add this model to the parent the payload names (if it names one)."""
        parent = self.parent_in(data)
        if parent is not None and not policy.can_add(self.request.user, self.queryset.model, parent):
            raise exceptions.PermissionDenied(f"You may not change this {parent._meta.verbose_name}.")

    def perform_update(self, serializer: serializers.ModelSerializer) -> None:
        self.save_within_reach(serializer)

    def save_within_reach(self, serializer: serializers.ModelSerializer, check_reach: bool = True) -> None:
        """Save, then make sure the user can still see what they saved; roll back if not."""
        try:
            if check_reach:
                instance = policy.save_within_reach(self.request.user, serializer.save)
            else:
                with transaction.atomic():
                    instance = serializer.save()
        except policy.OutOfReach as exc:
            raise exceptions.PermissionDenied(str(exc)) from None
        except IntegrityError:
            # A concurrent write took the name between validation and save.
            error = {api_settings.NON_FIELD_ERRORS_KEY: ["This conflicts with existing data."]}
            raise exceptions.ValidationError(error) from None
        # Answer with the object as the viewset's queryset loads it (related rows prefetched).
        serializer.instance = self.get_queryset().filter(pk=instance.pk).first() or instance

    def parent_in(self, data: dict) -> models.Model | None:
        """The parent object a child's payload names (``access_parent`` may be a path: ``output__product``)."""
        lookup = getattr(self.queryset.model, "access_parent", None)
        if not lookup:
            return None
        first, *rest = lookup.split("__")
        parent = data.get(first)
        for name in rest:
            parent = getattr(parent, name, None)
        return parent


class ReferenceDataViewSet(JSONViewSetMixin, viewsets.ModelViewSet):
    """Reference data every signed-in user may read and only holders of the model permissions may write."""

    permission_classes = [ModelPermissionOrReadOnly]


class ReadOnlyViewSet(JSONViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Reference data every signed-in user may read."""


# --- Serializers ---------------------------------------------------------------------------


class RestrictedFieldMixin:
    """A related field whose choices are the objects the requesting user may see (NetBox ``restrict_form_fields``)."""

    def get_queryset(self) -> models.QuerySet:
        queryset = super().get_queryset()
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return policy.restrict(queryset, user, policy.VIEW)


class RestrictedPrimaryKeyRelatedField(RestrictedFieldMixin, serializers.PrimaryKeyRelatedField):
    pass


class RestrictedSlugRelatedField(RestrictedFieldMixin, SlugRelatedField):
    pass


class ValidatedModelSerializer(serializers.ModelSerializer):
    """A model serializer that also runs the model's ``full_clean()``.

    Domain rules live on models (same product, KPI cycles, data-root paths, lengths); this
    applies them to the API's input, turning Django's errors into DRF field errors. Fields
    the serializer does not offer are left out of the check, and uniqueness comes from the
    model too (a clash on ``(product, title)`` is reported on ``title``).
    """

    def get_validators(self) -> list:
        # The model's constraints are checked by full_clean(), with errors that name a field.
        return list(getattr(self.Meta, "validators", []))

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        instance = self.instance_with(attrs)
        excluded = self.fields_not_offered()
        try:
            instance.full_clean(exclude=excluded)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(self.error_detail(exc)) from None
        # clean() may normalise plain values (e.g. an output's format); keep what it settled on.
        for field in self.Meta.model._meta.concrete_fields:
            if not field.is_relation and field.name not in excluded:
                attrs[field.name] = getattr(instance, field.name)
        return attrs

    def instance_with(self, attrs: dict) -> models.Model:
        """An unsaved copy of the instance (or a new one) with the plain, non-m2m fields of ``attrs`` applied."""
        instance = copy.copy(self.instance) if self.instance is not None else self.Meta.model()
        for name in self.concrete_fields_in(attrs):
            setattr(instance, name, attrs[name])
        return instance

    def concrete_fields_in(self, attrs: dict) -> list[str]:
        names = {field.name for field in self.Meta.model._meta.concrete_fields}
        return [name for name in attrs if name in names]

    def fields_not_offered(self) -> list[str]:
        offered = {field.source.split(".")[0] for field in self.fields.values() if not field.read_only}
        return [field.name for field in self.Meta.model._meta.concrete_fields if field.name not in offered]

    def error_detail(self, exc: DjangoValidationError) -> dict | list:
        detail = validation_error_detail(exc)
        if NON_FIELD_ERRORS not in getattr(exc, "error_dict", {}):
            return detail
        del detail[api_settings.NON_FIELD_ERRORS_KEY]
        for error in exc.error_dict[NON_FIELD_ERRORS]:
            field = self.field_for_unique_error(error)
            detail.setdefault(field, []).extend(error.messages)
        return detail

    def field_for_unique_error(self, error: DjangoValidationError) -> str:
        """A clash on (parent, name) is a problem with the name: report it on the last field of the set."""
        fields = (error.params or {}).get("unique_check") if error.code == "unique_together" else None
        if fields and fields[-1] in self.fields:
            return fields[-1]
        return api_settings.NON_FIELD_ERRORS_KEY


class RestrictedReadOnlyViewSet(JSONViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """A read-only viewset seen through the access policy (what the user may not see is a 404),
    whose actions on one object (``POST …/<id>/<action>/``) need change permission on it (403)."""

    permission_classes = [ActPermission]

    def get_queryset(self) -> models.QuerySet:
        return policy.restrict(super().get_queryset(), self.request.user, policy.VIEW)
