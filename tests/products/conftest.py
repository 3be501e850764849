"""Fixtures shared by the product tests."""

import pytest

from products import versions
from products.history import VersionSource
from tests import factories


@pytest.fixture
def orders(product):
    """Cross-sell 1.4.0 with an output ``orders`` (id, email), recorded as version 1. Files may define their own."""
    output = orders_of(product)
    versions.record_version(product, source=VersionSource.DEMO)
    return output


def orders_of(product):
    """Make ``product`` 1.4.0 with an output ``orders`` (id, email); returns the output."""
    product.version = "1.4.0"
    product.save()
    output = factories.OutputFactory(product=product, name="orders")
    factories.OutputColumnFactory(output=output, name="id", data_type="integer")
    factories.OutputColumnFactory(output=output, name="email", data_type="string")
    return output


def formset_as_shown(formset) -> dict:
    """What an editor page's formset posts back unchanged: its management form and every form's initial values."""
    data = {f"{formset.prefix}-{key}": value for key, value in formset.management_form.initial.items()}
    for form in formset.forms:
        for name, field in form.fields.items():
            value = form.initial.get(name, field.initial)
            if value is not None and value is not False:
                data[f"{form.prefix}-{name}"] = value
    return data
