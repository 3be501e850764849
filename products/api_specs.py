"""Specs as code over the REST API: a product's spec document as YAML, in and out.

``GET /api/v1/products/<slug>/spec/`` answers the document (``application/yaml``);
``PUT`` to the same path replaces the product's spec with a YAML body; ``POST /api/v1/specs/``
creates or updates the products its documents name. ``?dry_run=true`` reports the change and
writes nothing. Bad documents answer 400 with every error: ``{"errors": [{"line", "column",
"path", "message"}]}``; nothing is written.
"""

from __future__ import annotations

import yaml
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import parsers, permissions, renderers, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from access import policy

from .models import DataProduct
from .specs.document import to_yaml
from .specs.importer import ImportReport, import_documents
from .specs.loader import MAX_BYTES, SpecError, SpecErrors, load

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")


class YAMLParser(parsers.BaseParser):
    """The body as bytes, at most one byte over the limit, so the loader can say it is too large."""

    media_type = "application/yaml"

    def parse(self, stream, media_type=None, parser_context=None) -> bytes:
        return stream.read(MAX_BYTES + 1) if stream is not None else b""


class XYAMLParser(YAMLParser):
    media_type = "application/x-yaml"


class TextYAMLParser(YAMLParser):
    media_type = "text/yaml"


class YAMLRenderer(renderers.BaseRenderer):
    """For clients that accept only YAML: errors come as YAML too."""

    media_type = "application/yaml"
    format = "yaml"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode("utf-8")


ERRORS = inline_serializer(
    "SpecErrors",
    {
        "errors": inline_serializer(
            "SpecError",
            {
                "line": serializers.IntegerField(),
                "column": serializers.IntegerField(),
                "path": serializers.CharField(help_text="e.g. spec.goals[2].target"),
                "message": serializers.CharField(),
            },
            many=True,
        )
    },
)
REPORT = inline_serializer(
    "SpecImportReport",
    {
        "dry_run": serializers.BooleanField(),
        "products": inline_serializer(
            "SpecImportProduct",
            {"slug": serializers.CharField(), "changes": serializers.ListField(child=serializers.CharField())},
            many=True,
        ),
    },
)
DRY_RUN = OpenApiParameter("dry_run", OpenApiTypes.BOOL, description="Report the change; write nothing.")
YAML_BODY = {media_type: OpenApiTypes.STR for media_type in YAML_TYPES}
WRITE_RESPONSES = {
    200: REPORT,
    400: OpenApiResponse(ERRORS, description="The document's errors, each with its line, column and path."),
}


class SpecView(APIView):
    parser_classes = [YAMLParser, XYAMLParser, TextYAMLParser]
    renderer_classes = [renderers.JSONRenderer, YAMLRenderer]
    permission_classes = [permissions.IsAuthenticated]

    def product(self, request, slug: str, action: str) -> DataProduct:
        """The product the URL names: 404 if the user may not see it, 403 if they may not do ``action``."""
        product = policy.get_visible_or_404(DataProduct.objects.all(), request.user, slug=slug)
        policy.require(request.user, action, product)
        return product

    def documents(self, request, source: str) -> list:
        body = request.data if isinstance(request.data, bytes) else b""
        return load(body, source)

    def run(self, request, source: str, check=None) -> Response:
        """Load, check and import the body; 400 with every error, else the change report."""
        try:
            documents = self.documents(request, source)
            if check is not None:
                check(documents)
            report = import_documents(documents, user=request.user, dry_run=dry_run(request))
        except SpecErrors as exc:
            return Response({"errors": [error.as_dict() for error in exc.errors]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(report_data(report))


def dry_run(request) -> bool:
    return request.query_params.get("dry_run", "").lower() in ("1", "true", "yes")


def report_data(report: ImportReport) -> dict:
    products = [{"slug": product.slug, "changes": product.lines} for product in report.products]
    return {"dry_run": report.dry_run, "products": products}


@extend_schema(tags=["specs"])
class ProductSpecView(SpecView):
    """One product's spec document."""

    @extend_schema(
        summary="The product's spec as a YAML document",
        responses={
            # A YAML mapping (clients parse it to an object); its shape is docs/spec.schema.json.
            (200, "application/yaml"): OpenApiResponse(
                OpenApiTypes.OBJECT, description="The spec document (see docs/spec.schema.json)."
            ),
            404: OpenApiResponse(description="No product with this slug that you may see."),
        },
    )
    def get(self, request, slug: str) -> HttpResponse:
        product = self.product(request, slug, policy.VIEW)
        response = HttpResponse(to_yaml(product), content_type="application/yaml; charset=utf-8")
        response["Content-Disposition"] = f'inline; filename="{product.slug}.yaml"'
        return response

    @extend_schema(
        summary="Replace the product's spec with a YAML document (its owner, stewards and admins)",
        request=YAML_BODY,
        parameters=[DRY_RUN],
        responses={
            **WRITE_RESPONSES,
            403: OpenApiResponse(description="You may see the product but not change it."),
            404: OpenApiResponse(description="No product with this slug that you may see."),
        },
    )
    def put(self, request, slug: str) -> Response:
        product = self.product(request, slug, policy.CHANGE)
        return self.run(request, f"{slug}.yaml", lambda documents: same_product(documents, product))


def same_product(documents: list, product: DataProduct) -> None:
    """A PUT carries this product's one document: a spec may not rename its own slug."""
    errors = [document.error(("metadata",), "a PUT carries one document") for document in documents[1:]]
    document = documents[0]
    if document.slug != product.slug:
        message = f"this spec names {document.slug!r}, not {product.slug!r}: a spec cannot rename its product"
        errors.append(document.error(("metadata", "slug"), message))
    if errors:
        raise SpecErrors(errors)


@extend_schema(tags=["specs"])
class SpecImportView(SpecView):
    """Create or update products from YAML documents, keyed by metadata.slug."""

    @extend_schema(
        summary="Create or update products from YAML spec documents (atomic: all or nothing)",
        request=YAML_BODY,
        parameters=[DRY_RUN],
        responses=WRITE_RESPONSES,
    )
    def post(self, request) -> Response:
        return self.run(request, "request.yaml")


__all__ = ["ProductSpecView", "SpecError", "SpecImportView"]
