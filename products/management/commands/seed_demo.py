"""``manage.py seed_demo [--password P]``: load the demo organisation, its products and their data.

Idempotent: run it as often as you like; a second run on the same day changes no row and
writes no file. See ``products.demo`` for what the data contains and the flaws planted in it.
"""

import argparse
import time

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from products import versions
from products.demo import loader, specs
from products.history import VersionSource
from products.signals import demo_seeded
from utilities.text import plain_table

DEFAULT_PASSWORD = "lodestar"
DEFAULT_ROWS = 100_000
MIN_ROWS = 100


class Command(BaseCommand):
    help = "Load demo users, teams and four data products with their Parquet outputs (idempotent)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--password", default=DEFAULT_PASSWORD, help=f"Password of every demo user (default: {DEFAULT_PASSWORD})."
        )
        parser.add_argument("--regenerate", action="store_true", help="Rewrite every Parquet file, even current ones.")
        # Rows per output; tests pass a small number to stay fast.
        parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help=argparse.SUPPRESS)

    def handle(self, *args, password: str, rows: int, regenerate: bool, **options) -> None:
        check_options(password, rows)
        started = time.perf_counter()
        anchor = timezone.now().date()
        # One transaction for the products and what other apps add to them (checks), so each product's
        # history starts with one version, "Demo data", not one per part.
        with transaction.atomic(), versions.changing(VersionSource.DEMO, "Demo data"):
            try:
                result = loader.seed(password=password, rows=rows, anchor=anchor, regenerate=regenerate)
            except OSError as exc:
                raise CommandError(f"Cannot write the demo data under {settings.LODESTAR_DATA_ROOT}: {exc}") from exc
            demo_seeded.send(sender=self.__class__, products=result.products)
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"Seeded the Lodestar demo in {elapsed:.1f} s "
            f"(data anchored on {anchor.isoformat()}, {rows:,} rows per output, under {settings.LODESTAR_DATA_ROOT})."
        )
        self.print_summary(result, password)

    def print_summary(self, result: loader.SeedResult, password: str) -> None:
        self.stdout.write("\nProducts")
        self.stdout.write(table(["slug", "status", "version", "owner", "stewards", "goals", "hypotheses",
                                 "use cases", "KPIs", "SLOs", "outputs", "inputs"],
                                [product_row(product) for product in result.products]))  # fmt: skip
        self.stdout.write("\nOutputs")
        files = [[file.path, file.rows, file.columns, "written" if file.written else "kept"] for file in result.files]
        self.stdout.write(table(["path", "rows", "columns", "file"], files))
        self.stdout.write(f"\nUsers (password: {password})")
        self.stdout.write(table(["username", "name", "title", "roles and teams"], [user_row(u) for u in result.users]))


def check_options(password: str, rows: int) -> None:
    if rows < MIN_ROWS:
        raise CommandError(f"--rows must be at least {MIN_ROWS}, not {rows}.")
    try:
        validate_password(password)
    except ValidationError as exc:
        raise CommandError(f"--password: {' '.join(exc.messages)}") from None


def product_row(product) -> list:
    stewards = ", ".join(product.stewards.order_by("username").values_list("username", flat=True)) or "-"
    counts = [product.goals, product.hypotheses, product.use_cases, product.kpis, product.slos, product.outputs,
              product.inputs]  # fmt: skip
    return [product.slug, product.status, product.version, product.owner.username, stewards,
            *[related.count() for related in counts]]  # fmt: skip


def user_row(user) -> list:
    titles = {spec["username"]: spec["title"] for spec in specs.USERS}
    roles = (["superuser"] if user.is_superuser else []) + [group.name for group in user.groups.all()]
    roles += [team.name for team in user.teams.all()]
    return [user.username, user.get_full_name(), titles.get(user.username, ""), ", ".join(roles) or "-"]


def table(headers: list[str], rows: list[list]) -> str:
    """A plain-text table: numbers right-aligned (with thousands separators), text left-aligned."""
    numeric = {i for i in range(len(headers)) if rows and all(isinstance(row[i], int) for row in rows)}
    formatted = [[f"{value:,}" if isinstance(value, int) else value for value in row] for row in rows]
    return plain_table(headers, formatted, right=numeric)
