"""The demo's history starts with one version per product: "Demo data"."""

import io

import pytest
from django.core.management import call_command

from products.history import ProductVersion
from products.models import DataProduct

# A transaction of its own, as in `make run`: the versions are recorded when the seed commits.
pytestmark = pytest.mark.django_db(transaction=True)


def test_each_demo_product_starts_at_version_one_and_a_second_seed_adds_none(data_root):
    call_command("seed_demo", "--rows", "200", stdout=io.StringIO())
    versions = list(ProductVersion.objects.values_list("product__slug", "number", "source", "message"))
    assert sorted(versions) == sorted(
        (slug, 1, "demo", "Demo data") for slug in DataProduct.objects.values_list("slug", flat=True)
    )
    call_command("seed_demo", "--rows", "200", stdout=io.StringIO())
    assert ProductVersion.objects.count() == len(versions)
