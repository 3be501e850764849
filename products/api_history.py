"""The API of a product's versions and change requests (under /api/v1/products/<slug>/).

The same rules as the pages (``products.views_history``): versions for whoever sees the product,
restoring and change requests for whoever may change it, decisions for its owner and admins.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from access import policy
from access.api import JSONMixin

from . import review, versions
from .history import ChangeRequest, ProductVersion
from .models import DataProduct
from .specs.loader import SpecErrors, load


def product_for(request, slug: str, action: str = policy.VIEW) -> DataProduct:
    product = policy.get_visible_or_404(DataProduct.objects.select_related("owner"), request.user, slug=slug)
    if not policy.can(request.user, action, product):
        raise exceptions.PermissionDenied("You may not change this product.")
    return product


def version_data(version: ProductVersion, snapshot: bool = False) -> dict:
    data = {
        "number": version.number,
        "version": version.version,
        "author": version.author.get_username() if version.author else None,
        "created": version.created.isoformat(),
        "message": version.message,
        "source": version.source,
    }
    return data | ({"snapshot": version.snapshot} if snapshot else {})


def change_data(change: ChangeRequest, detail: bool = False) -> dict:
    data = {
        "id": change.pk,
        "author": change.author.get_username() if change.author else None,
        "created": change.created.isoformat(),
        "message": change.message,
        "status": change.status,
        "base_version": change.base_version.number if change.base_version else None,
        "decided_by": change.decided_by.get_username() if change.decided_by else None,
        "decided_at": change.decided_at.isoformat() if change.decided_at else None,
        "comment": change.comment,
    }
    if detail:
        data["diff"] = [
            {"section": section, "lines": lines}
            for section, lines in versions.diff_lines(change.base_snapshot, change.proposed)
        ]
        data["proposed"] = change.proposed
    return data


def spec_errors(exc: SpecErrors) -> exceptions.ValidationError:
    return exceptions.ValidationError({"errors": [error.as_dict() for error in exc.errors]})


def django_errors(exc: DjangoValidationError) -> exceptions.ValidationError:
    return exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})


def body(request) -> dict:
    if not isinstance(request.data, dict):
        raise exceptions.ValidationError({"detail": ["The body must be a JSON object."]})
    return request.data


def listing(items: list) -> dict:
    return {"count": len(items), "results": items}


class Base(JSONMixin, APIView):
    permission_classes = [permissions.IsAuthenticated]


@extend_schema(
    tags=["products"],
    request=OpenApiTypes.OBJECT,
    responses=OpenApiTypes.OBJECT,
    summary="The product's recorded versions, newest first",
)
class VersionListView(Base):
    @extend_schema(operation_id="product_versions_list")
    def get(self, request, slug):
        product = product_for(request, slug)
        found = ProductVersion.objects.filter(product=product).select_related("author").defer("snapshot")
        return Response(listing([version_data(version) for version in found]))


@extend_schema(
    tags=["products"],
    request=OpenApiTypes.OBJECT,
    responses=OpenApiTypes.OBJECT,
    summary="One version, with its full spec snapshot",
)
class VersionDetailView(Base):
    @extend_schema(operation_id="product_version_retrieve")
    def get(self, request, slug, number):
        product = product_for(request, slug)
        return Response(version_data(get_object_or_404(ProductVersion, product=product, number=number), True))


@extend_schema(
    tags=["products"],
    request=OpenApiTypes.OBJECT,
    responses=OpenApiTypes.OBJECT,
    summary="The readable and the YAML difference between two versions (?from=&to=)",
)
class VersionDiffView(Base):
    def get(self, request, slug):
        product = product_for(request, slug)
        numbers = {}
        for name in ("from", "to"):
            try:
                numbers[name] = versions.parse_number(request.query_params.get(name), name)
            except ValueError as exc:
                raise exceptions.ValidationError({exc.args[0]: [exc.args[1]]}) from None
            if numbers[name] is None:
                raise exceptions.ValidationError({name: [f"{name} is required: a version number."]})
        old = get_object_or_404(ProductVersion, product=product, number=numbers["from"])
        new = get_object_or_404(ProductVersion, product=product, number=numbers["to"])
        diff = versions.diff_lines(old.snapshot, new.snapshot)
        return Response(
            {
                "from": old.number,
                "to": new.number,
                "diff": [{"section": section, "lines": lines} for section, lines in diff],
                "yaml_diff": versions.yaml_diff(
                    old.snapshot, new.snapshot, f"version {old.number}", f"version {new.number}"
                ),
            }
        )


@extend_schema(
    tags=["products"],
    request=OpenApiTypes.OBJECT,
    responses=OpenApiTypes.OBJECT,
    summary="Restore an old version as a new version",
)
class VersionRestoreView(Base):
    def post(self, request, slug, number):
        product = product_for(request, slug, policy.CHANGE)
        version = get_object_or_404(ProductVersion, product=product, number=number)
        try:
            restored = versions.restore(product, version, request.user)
        except SpecErrors as exc:
            raise spec_errors(exc) from None
        return Response(version_data(restored) if restored else {}, status=status.HTTP_201_CREATED)


@extend_schema(
    tags=["products"],
    request=OpenApiTypes.OBJECT,
    responses=OpenApiTypes.OBJECT,
    summary="Change requests (GET); submit a spec document as one (POST {message, spec})",
)
class ChangeListView(Base):
    def get(self, request, slug):
        product = product_for(request, slug, policy.CHANGE)
        found = ChangeRequest.objects.filter(product=product).select_related("author", "decided_by", "base_version")
        return Response(listing([change_data(change) for change in found]))

    def post(self, request, slug):
        product = product_for(request, slug, policy.CHANGE)
        text, message = body(request).get("spec"), body(request).get("message", "")
        if not isinstance(text, str) or not text.strip():
            raise exceptions.ValidationError({"spec": ["spec is required: the whole spec document as YAML text."]})
        try:
            documents = load(text, "spec")
            if len(documents) != 1 or documents[0].slug != product.slug:
                raise exceptions.ValidationError({"spec": [f"spec must be one document for {product.slug}."]})
            change = review.propose_document(product, request.user, documents[0], str(message))
        except SpecErrors as exc:
            raise spec_errors(exc) from None
        except DjangoValidationError as exc:
            raise django_errors(exc) from None
        return Response(change_data(change, True), status=status.HTTP_201_CREATED)


@extend_schema(
    tags=["products"],
    request=OpenApiTypes.OBJECT,
    responses=OpenApiTypes.OBJECT,
    summary="Approve (apply) or reject a change request, with {comment}",
)
class ChangeDecisionView(Base):
    decision = "approve"

    def post(self, request, slug, pk):
        product = product_for(request, slug, policy.CHANGE)
        change = get_object_or_404(ChangeRequest, product=product, pk=pk)
        comment = body(request).get("comment", "")
        if not isinstance(comment, str):
            raise exceptions.ValidationError({"comment": ["comment must be text."]})
        try:
            if self.decision == "approve":
                review.approve(change, request.user, comment)
            else:
                review.reject(change, request.user, comment)
        except DjangoPermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from None
        except DjangoValidationError as exc:
            raise django_errors(exc) from None
        except SpecErrors as exc:
            raise spec_errors(exc) from None
        return Response(change_data(change, True))
