"""Reading an output's rows in the browser: the preview, the downloads, and the row-filter editor.

Every read goes through ``products.delivery`` (the policy's read level, masking, row filters,
audit); these views only choose the format. The output is named by its product's slug and its
own name: 404 if the product is out of sight or has no such output.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.views import View

from access import policy

from . import delivery
from .forms_row_filters import RowFilterFormSet
from .models import DataProduct, Output


def output_or_404(request: HttpRequest, slug: str, name: str) -> Output:
    queryset = DataProduct.objects.select_related("owner")
    product = policy.get_visible_or_404(queryset, request.user, slug=slug)
    outputs = Output.objects.select_related("product__owner", "connection").prefetch_related("product__stewards")
    return get_object_or_404(outputs, product=product, name=name)


class OutputView(View):
    """A view of one output of a product the user may see."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.output = output_or_404(request, kwargs["slug"], kwargs["name"])
        self.product = self.output.product
        self.check_access(request)
        return super().dispatch(request, *args, **kwargs)

    def check_access(self, request: HttpRequest) -> None:
        """Reading paths leave it to ``products.delivery``; an editor refuses here."""


# --- The preview ----------------------------------------------------------------------------


class PreviewView(OutputView):
    """The first rows, masked and row-filtered: an HTML fragment for the product page's script
    (``?fragment=1``), or a page of its own (the link's fallback without JavaScript)."""

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        template = "products/_preview.html" if request.GET.get("fragment") else "products/output_preview.html"
        context = {"product": self.product, "output": self.output}
        try:
            # ``?filter=column:value`` (repeatable, ANDed) narrows the rows: a KPI breakdown's drill-down.
            read_plan = delivery.plan(request.user, self.output, filters=request.GET.getlist("filter") or None)
            stream = delivery.RowStream(read_plan, delivery.PREVIEW, limit=delivery.PREVIEW_ROWS)
            rows = [row for batch in stream for row in delivery.rows_as_dicts(batch)]
        except PermissionDenied as exc:
            may_request = str(exc) == delivery.NO_ACCESS
            return render(request, template, {**context, "refusal": str(exc), "may_request": may_request}, status=403)
        except ValidationError as exc:
            return render(request, template, {**context, "refusal": first_message(exc)}, status=400)
        except delivery.DeliveryError as exc:
            return render(request, template, {**context, "refusal": str(exc)}, status=409)
        context.update(preview_context(read_plan, rows))
        return render(request, template, context)


def first_message(exc: ValidationError) -> str:
    return exc.messages[0] if exc.messages else "The request is not valid."


def preview_context(read_plan: delivery.ReadPlan, rows: list[dict]) -> dict:
    names = read_plan.column_names
    return {
        "plan": read_plan,
        "columns": [{"name": c.name, "masked": c.name in read_plan.masking} for c in read_plan.columns],
        "rows": [[{"value": row.get(name), "masked": name in read_plan.masking} for name in names] for row in rows],
        "limit": delivery.PREVIEW_ROWS,
    }


# --- Downloads ------------------------------------------------------------------------------

FORMATS = {
    delivery.CSV: ("text/csv; charset=utf-8", delivery.csv_chunks),
    delivery.PARQUET: ("application/vnd.apache.parquet", delivery.parquet_chunks),
}


def streamed_download(read_plan: delivery.ReadPlan, path: str, filename: str) -> StreamingHttpResponse:
    content_type, encode = FORMATS[path]
    response = StreamingHttpResponse(encode(delivery.RowStream(read_plan, path)), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


class DownloadView(OutputView):
    """The whole output (as the reader may read it) as CSV or Parquet, streamed in bounded memory."""

    format: str = delivery.CSV

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            read_plan = delivery.plan(request.user, self.output)
        except ValidationError as exc:
            return HttpResponse(first_message(exc), status=400, content_type="text/plain; charset=utf-8")
        filename = f"{self.product.slug}-{self.output.name}.{self.format}"
        return streamed_download(read_plan, self.format, filename)


# --- Row filters ----------------------------------------------------------------------------


class RowFilterEditView(OutputView):
    """The output's row-filter rules, for those who manage access to it; saved all together or not at all."""

    template_name = "products/rowfilter_form.html"

    def check_access(self, request: HttpRequest) -> None:
        if not policy.can_manage_access(request.user, self.output):
            raise PermissionDenied("Only those who manage access to this product edit its row filters.")

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return self.render(RowFilterFormSet(output=self.output))

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        formset = RowFilterFormSet(request.POST, output=self.output)
        if not formset.is_valid():
            return self.render(formset, status=400)
        with transaction.atomic():
            formset.save()
        messages.success(request, f"Row filters of {self.output.name} saved.")
        return HttpResponseRedirect(request.path)

    def render(self, formset, status: int = 200) -> HttpResponse:
        context = {"product": self.product, "output": self.output, "formset": formset}
        return render(self.request, self.template_name, context, status=status)
