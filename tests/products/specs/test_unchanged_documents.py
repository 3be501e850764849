"""A folder of every spec, one of them edited: the unchanged ones need no permission, the edited one does."""

import pytest

from products.models import DataProduct
from products.specs.importer import import_documents
from products.specs.loader import SpecErrors
from tests import factories
from tests.products.specs.conftest import counts, documents, spec_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_products(alice, bob):
    mine = factories.DataProductFactory(slug="mine", name="Mine", owner=alice, stewards=[bob])
    theirs = factories.DataProductFactory(slug="theirs", name="Theirs", owner=factories.UserFactory())
    return mine, theirs


def test_unchanged_documents_of_products_one_may_not_change_are_passed_over(two_products, bob):
    mine, theirs = two_products
    edited = spec_of(mine)
    edited["spec"]["summary"] = "Edited by its steward."
    report = import_documents(documents(edited, spec_of(theirs)), user=bob)
    assert [(change.slug, bool(change.lines)) for change in report.products] == [("mine", True), ("theirs", False)]
    assert DataProduct.objects.get(slug="mine").summary == "Edited by its steward."


def test_a_changed_document_still_needs_change_permission_and_nothing_is_written(two_products, bob):
    mine, theirs = two_products
    edited = spec_of(theirs)
    edited["spec"]["summary"] = "Not bob's to edit."
    before = counts()
    with pytest.raises(SpecErrors) as caught:
        import_documents(documents(spec_of(mine), edited), user=bob)
    assert "you may not change the product 'theirs'" in str(caught.value)
    assert counts() == before


def test_an_unchanged_document_of_a_product_one_may_not_see_is_still_refused(bob, draft):
    hidden = factories.DataProductFactory(slug="hidden", status="draft", owner=factories.UserFactory())
    with pytest.raises(SpecErrors):
        import_documents(documents(spec_of(hidden)), user=bob)
