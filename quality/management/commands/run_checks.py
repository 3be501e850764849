"""``manage.py run_checks [--product SLUG] [--output ID]``: run checks now, so a data pipeline can gate on them.

Runs synchronously, stores each result as a CheckRun, prints a table and exits with status 1 when
a fail-severity check failed (an *error*, data that could not be reached, is reported but does
not fail the gate: it says nothing about the data).
"""

from __future__ import annotations

from collections import Counter

from django.core.management.base import BaseCommand, CommandError
from django.db.models import QuerySet

from products.models import DataProduct, Output
from quality.choices import RunStatus
from quality.engine import Result, record_results, run_checks_for_output
from utilities.text import plain_table

HEADERS = ["product", "output", "check", "type", "status", "observed", "threshold", "duration"]
RIGHT = {5, 7}


class Command(BaseCommand):
    help = "Run the enabled quality checks now, print the results and exit 1 if a fail-severity check failed."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--product", metavar="SLUG", help="Only the outputs of this product.")
        parser.add_argument("--output", metavar="ID", help="Only this output (its numeric id).")

    def handle(self, *args, product: str | None, output: str | None, **options) -> None:
        results = []
        for item in outputs(product, output):
            found = run_checks_for_output(item)
            record_results(found)
            results.extend(found)
        if not results:
            self.stdout.write("No enabled checks to run.")
            return
        self.stdout.write(plain_table(HEADERS, [row(result) for result in results], RIGHT))
        counts = Counter(result.status for result in results)
        summary = ", ".join(f"{counts[status]} {status}" for status in RunStatus.values if counts[status])
        self.stdout.write(f"\n{len(results)} checks: {summary}.")
        if counts[RunStatus.FAIL]:
            raise CommandError(f"{counts[RunStatus.FAIL]} fail-severity check(s) failed.")


def outputs(product: str | None, output: str | None) -> QuerySet:
    found = Output.objects.select_related("product").filter(checks__enabled=True).distinct()
    if product is not None:
        if not DataProduct.objects.filter(slug=product).exists():
            raise CommandError(f"--product: there is no product with the slug {product!r}.")
        found = found.filter(product__slug=product)
    if output is not None:
        if not output.isdigit() or not Output.objects.filter(pk=int(output)).exists():
            raise CommandError(f"--output: there is no output with the id {output!r}.")
        found = found.filter(pk=int(output))
    return found.order_by("product__slug", "name")


def row(result: Result) -> list:
    check = result.check
    return [
        check.output.product.slug,
        check.output.name,
        check.name,
        check.check_type,
        result.status.upper() if result.status == RunStatus.FAIL else result.status,
        observed(result),
        check.threshold_display,
        f"{result.duration_ms:,} ms",
    ]


def observed(result: Result) -> str:
    value = result.observed_value
    if value is None:
        return "-"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
