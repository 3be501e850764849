"""``manage.py export_specs DIR [--product SLUG]``: each product's spec as ``DIR/<slug>.yaml``.

An admin's tool: it exports what exists, for no user in particular. ``--schema PATH`` writes the
JSON Schema of the document instead (``docs/spec.schema.json`` is kept that way).
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from products.models import DataProduct
from products.specs.document import dump, to_documents
from products.specs.schema import schema_text


class Command(BaseCommand):
    help = "Write each product's spec as YAML, one <slug>.yaml per product, into DIR."

    def add_arguments(self, parser) -> None:
        parser.add_argument("dir", nargs="?", help="The folder to write into (created if missing).")
        parser.add_argument("--product", action="append", default=[], metavar="SLUG", help="Only this product.")
        parser.add_argument("--schema", metavar="PATH", help="Write the spec's JSON Schema to PATH instead.")

    def handle(self, *args, dir: str | None, product: list[str], schema: str | None, **options) -> None:
        if schema:
            Path(schema).write_text(schema_text(), encoding="utf-8")
            self.stdout.write(f"Wrote the spec schema to {schema}.")
            return
        if not dir:
            raise CommandError("Name the folder to export into: export_specs DIR.")
        products = self.products(product)
        folder = Path(dir)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            slugs = {each.pk: each.slug for each in products}
            for pk, document in to_documents(slugs):
                (folder / f"{slugs[pk]}.yaml").write_text(dump(document), encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot write into {folder}: {exc}") from None
        self.stdout.write(f"Exported {len(products)} product spec(s) to {folder}.")

    @staticmethod
    def products(slugs: list[str]) -> list[DataProduct]:
        products = DataProduct.objects.order_by("slug")
        if not slugs:
            return list(products)
        found = list(products.filter(slug__in=slugs))
        unknown = sorted(set(slugs) - {each.slug for each in found})
        if unknown:
            raise CommandError(f"No product with slug {', '.join(unknown)}.")
        return found
