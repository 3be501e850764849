"""Open standards over the REST API: an output's contract as ODCS v3, a product as ODPS v1.

``GET /api/v1/outputs/<id>/contract/`` and ``GET /api/v1/products/<slug>/odps/`` answer YAML.
``PUT`` to either takes a YAML body of that standard: what maps goes through the spec importer
(the same checks, one transaction, ``?dry_run=true`` to preview), the original is kept beside the
product with the list of what did not map, and the answer names it: ``{"dry_run", "products",
"unmapped"}``. Errors answer 400 with ``{"errors": [{"line", "column", "path", "message"}]}``.
"""

from __future__ import annotations

import re

import yaml
from django.db import transaction
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from access import policy

from . import standards
from .api_specs import DRY_RUN, ERRORS, YAML_BODY, SpecView, dry_run, report_data
from .models import Output
from .originals import OriginalDocument, Standard
from .specs import loader
from .specs.document import to_document
from .specs.importer import import_documents

RESULT = inline_serializer(
    "StandardImportReport",
    {
        "dry_run": serializers.BooleanField(),
        "products": serializers.ListField(child=serializers.DictField()),
        "unmapped": serializers.ListField(
            child=serializers.CharField(), help_text="Paths in the document with no place in a Lodestar spec."
        ),
    },
)
WRITE = {
    200: RESULT,
    400: OpenApiResponse(ERRORS, description="The document's errors, each with its line, column and path."),
    403: OpenApiResponse(description="You may see it but not change it."),
    404: OpenApiResponse(description="Nothing here that you may see."),
}
# A YAML mapping, which clients parse to an object (its shape is the standard's own JSON Schema).
YAML_OUT = {
    (200, "application/yaml"): OpenApiResponse(OpenApiTypes.OBJECT, description="The document, as YAML."),
    404: OpenApiResponse(description="Nothing here that you may see."),
}


def yaml_response(data: dict, filename: str) -> HttpResponse:
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    response = HttpResponse(text, content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def load_one(content, source: str) -> loader.Document:
    """One YAML document of any shape, loaded as safely as a spec (no aliases, size and depth limits)."""
    text = loader.decode(content if isinstance(content, bytes | str) else b"", source)
    nodes = loader.compose(text, source)
    if len(nodes) != 1:
        raise loader.SpecErrors([loader.SpecError(source, 1, 1, "(document)", "expected exactly one document")])
    document = loader.Document(data={}, source=source)
    builder = loader.Builder(document)
    document.data = builder.value(nodes[0], ())
    if builder.errors:
        raise loader.SpecErrors(builder.errors)
    return document


def path_parts(path: str) -> tuple:
    """``schema[0].properties[1].name`` → ``("schema", 0, "properties", 1, "name")``."""
    return tuple(int(part) if part.isdigit() else part for part in re.findall(r"[^.\[\]]+", path))


def refused(document: loader.Document, exc: standards.StandardError) -> loader.SpecErrors:
    return loader.SpecErrors([document.error(path_parts(exc.path), exc.message)])


class StandardView(SpecView):
    standard: str = ""

    def import_mapped(self, request, original: loader.Document, mapping, product, output=None) -> Response:
        """Import the mapped spec document; keep the original unless it is a dry run."""
        spec = loader.Document(data=mapping.value, source=original.source)
        with transaction.atomic():
            report = import_documents([spec], user=request.user, dry_run=dry_run(request))
            if not report.dry_run:
                OriginalDocument.objects.create(
                    product=product,
                    output=output,
                    standard=self.standard,
                    content=request.data.decode("utf-8") if isinstance(request.data, bytes) else "",
                    unmapped=mapping.unmapped,
                    imported_by=request.user,
                )
        return Response(report_data(report) | {"unmapped": mapping.unmapped})

    def errors(self, exc: loader.SpecErrors) -> Response:
        return Response({"errors": [error.as_dict() for error in exc.errors]}, status=status.HTTP_400_BAD_REQUEST)


@extend_schema(tags=["specs"])
class OutputContractView(StandardView):
    """An output's data contract as Open Data Contract Standard (ODCS v3) YAML."""

    standard = Standard.ODCS

    def output(self, request, pk: int, action: str) -> Output:
        output = policy.get_visible_or_404(Output.objects.select_related("product"), request.user, pk=pk)
        policy.require(request.user, action, output.product)
        return output

    @extend_schema(summary="The output's contract as ODCS v3 YAML", responses=YAML_OUT)
    def get(self, request, pk: int) -> HttpResponse:
        output = self.output(request, pk, policy.VIEW)
        contract = standards.odcs_contract(to_document(output.product), output.name)
        return yaml_response(contract, f"{output.product.slug}.{output.name}.odcs.yaml")

    @extend_schema(
        summary="Set the output's columns from an ODCS v3 contract (the original is kept)",
        request=YAML_BODY,
        parameters=[DRY_RUN],
        responses=WRITE,
    )
    def put(self, request, pk: int) -> Response:
        output = self.output(request, pk, policy.CHANGE)
        try:
            original = load_one(request.data, f"{output.name}.odcs.yaml")
            try:
                columns = standards.odcs_columns(original.data)
            except standards.StandardError as exc:
                raise refused(original, exc) from None
            spec = standards.with_columns(to_document(output.product), output.name, columns.value)
            mapping = standards.Mapping(spec, columns.unmapped)
            return self.import_mapped(request, original, mapping, output.product, output)
        except loader.SpecErrors as exc:
            return self.errors(exc)


@extend_schema(tags=["specs"])
class ProductODPSView(StandardView):
    """A product as an Open Data Product Standard (ODPS v1) descriptor."""

    standard = Standard.ODPS

    @extend_schema(summary="The product as an ODPS v1 descriptor (YAML)", responses=YAML_OUT)
    def get(self, request, slug: str) -> HttpResponse:
        product = self.product(request, slug, policy.VIEW)
        return yaml_response(standards.odps_product(to_document(product)), f"{product.slug}.odps.yaml")

    @extend_schema(
        summary="Update the product from an ODPS v1 descriptor (the original is kept)",
        request=YAML_BODY,
        parameters=[DRY_RUN],
        responses=WRITE,
    )
    def put(self, request, slug: str) -> Response:
        product = self.product(request, slug, policy.CHANGE)
        try:
            original = load_one(request.data, f"{slug}.odps.yaml")
            try:
                mapping = standards.apply_odps(to_document(product), original.data)
            except standards.StandardError as exc:
                raise refused(original, exc) from None
            return self.import_mapped(request, original, mapping, product)
        except loader.SpecErrors as exc:
            return self.errors(exc)
