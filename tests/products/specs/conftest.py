"""Shared pieces of the specs-as-code tests: the demo on a fixed day, documents to edit, row counts.

* ``demo`` — the demo organisation and products, seeded on ``DEMO_DAY`` so its specs (goal
  dates) are the same on every run; its Parquet files go to the test's own data root.
* ``spec_of(product)`` — a product's exported document as a plain dict, to edit and import.
* ``counts()`` — rows in every table of our apps and of auth and guardian: "nothing written".
"""

from datetime import date

import pytest
from django.apps import apps

from products.demo import loader as demo_loader
from products.signals import demo_seeded
from products.specs import loader
from products.specs.document import dump, to_yaml

DEMO_DAY = date(2026, 1, 1)
APPS = {"products", "quality", "access", "auth", "guardian", "catalog"}


@pytest.fixture
def demo(db, data_root) -> list:
    result = demo_loader.seed(password="lodestar", rows=100, anchor=DEMO_DAY)
    demo_seeded.send(sender=None, products=result.products)
    return result.products


def spec_of(product) -> dict:
    return loader.load(to_yaml(product))[0].data


def documents(*specs: dict, source: str = "spec.yaml") -> list:
    return [document for spec in specs for document in loader.load(dump(spec), source)]


def counts() -> dict[str, int]:
    """Rows in every table of our apps, auth and guardian (m2m tables included), and their last change."""
    tables = {}
    for model in apps.get_models(include_auto_created=True):
        if model._meta.app_label in APPS:
            tables[model._meta.label] = model._default_manager.count()
            if any(field.name == "updated" for field in model._meta.concrete_fields):
                tables[model._meta.label + ".updated"] = str(
                    model._default_manager.order_by("-updated").values_list("updated", flat=True).first()
                )
    return tables
