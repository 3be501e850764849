"""The spec as a file on the product page: download it, or edit and upload it with a dry-run preview.

The upload page runs the same loader and importer as ``import_specs`` and the API: errors show
with their line and column, a preview is a dry run, and nothing is written unless the whole
document imports cleanly.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views import View

from access import policy

from .models import DataProduct
from .specs.document import to_yaml
from .specs.importer import import_documents
from .specs.loader import MAX_BYTES, SpecError, SpecErrors, load


def visible_product(request: HttpRequest, slug: str, action: str) -> DataProduct:
    product = policy.get_visible_or_404(DataProduct.objects.all(), request.user, slug=slug)
    policy.require(request.user, action, product)
    return product


class SpecDownloadView(View):
    """``/products/<slug>/spec.yaml``: the spec document, as a file to keep in git."""

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        product = visible_product(request, slug, policy.VIEW)
        response = HttpResponse(to_yaml(product), content_type="application/yaml; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{product.slug}.yaml"'
        return response


class SpecEditView(View):
    """``/products/<slug>/spec/``: edit the YAML in the browser or upload a file; preview, then import."""

    template_name = "products/spec_edit.html"

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        product = visible_product(request, slug, policy.CHANGE)
        return self.render(product, to_yaml(product))

    def post(self, request: HttpRequest, slug: str) -> HttpResponse:
        product = visible_product(request, slug, policy.CHANGE)
        text = self.submitted_text(request)
        preview = "preview" in request.POST
        try:
            documents = load(text, f"{product.slug}.yaml")
            check_same_product(documents, product)
            report = import_documents(documents, user=request.user, dry_run=preview)
        except SpecErrors as exc:
            return self.render(product, text, errors=exc.errors, status=400)
        if preview:
            return self.render(product, text, changes=report.products[0].lines, previewed=True)
        count = len(report.products[0].lines)
        messages.success(request, f"Spec imported: {count} change{'s' if count != 1 else ''}.")
        return HttpResponseRedirect(product.get_absolute_url())

    @staticmethod
    def submitted_text(request: HttpRequest) -> bytes | str:
        upload = request.FILES.get("file")
        if upload is not None:
            return upload.read(MAX_BYTES + 1)
        return request.POST.get("yaml", "")

    def render(self, product, text, *, errors=(), changes=None, previewed=False, status=200) -> HttpResponse:
        if isinstance(text, bytes):
            text = text[:MAX_BYTES].decode("utf-8", errors="replace")
        context = {"product": product, "text": text, "errors": errors, "changes": changes, "previewed": previewed}
        return render(self.request, self.template_name, context, status=status)


def check_same_product(documents: list, product: DataProduct) -> None:
    """This page edits this product: one document, with this product's slug."""
    errors: list[SpecError] = [doc.error(("metadata",), "this page takes one document") for doc in documents[1:]]
    if documents[0].slug != product.slug:
        message = f"this spec names {documents[0].slug!r}, not {product.slug!r}: a spec cannot rename its product"
        errors.append(documents[0].error(("metadata", "slug"), message))
    if errors:
        raise SpecErrors(errors)
