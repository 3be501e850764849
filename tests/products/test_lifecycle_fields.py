"""The fields the lifecycle and impact analysis stand on: sunset date, successor, the columns an input reads."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from products import choices
from tests import factories

pytestmark = pytest.mark.django_db


def errors_of(obj) -> dict:
    with pytest.raises(ValidationError) as caught:
        obj.full_clean()
    return caught.value.message_dict


def test_deprecating_needs_a_sunset_date(product):
    product.status = choices.Status.DEPRECATED
    assert "sunset_date" in errors_of(product)
    product.sunset_date = date(2027, 3, 31)
    product.full_clean()


def test_a_product_cannot_replace_itself(product):
    product.replaced_by = product
    assert "replaced_by" in errors_of(product)
    product.replaced_by = factories.DataProductFactory()
    product.full_clean()


@pytest.fixture
def upstream_output():
    output = factories.OutputFactory(name="orders")
    for name in ("order_id", "region", "amount"):
        factories.OutputColumnFactory(output=output, name=name)
    return output


def test_an_input_names_columns_of_its_upstream_output(product, upstream_output):
    reading = factories.ProductInputFactory.build(product=product, source_output=upstream_output, columns=["region"])
    reading.full_clean()
    reading.columns = ["region", "margin"]
    assert "no column margin" in errors_of(reading)["columns"][0]
    reading.columns = "region"
    assert "columns" in errors_of(reading)


def test_an_external_input_names_no_columns(product):
    external = factories.ProductInputFactory.build(
        product=product, kind=choices.InputKind.EXTERNAL, source_output=None, external_name="Shop API", columns=["x"]
    )
    assert "columns" in errors_of(external)
