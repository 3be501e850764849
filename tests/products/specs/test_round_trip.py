"""Export → import → export is byte-identical, and importing the same document again writes nothing."""

import pytest

from access.models import AuditEvent
from products.models import DataProduct
from products.specs import loader
from products.specs.document import to_yaml
from products.specs.importer import import_documents

pytestmark = pytest.mark.django_db


def test_the_demo_round_trips_byte_for_byte_and_writes_nothing(demo, admin_user):
    exported = {product.slug: to_yaml(product) for product in DataProduct.objects.all()}
    documents = [doc for slug, text in exported.items() for doc in loader.load(text, f"{slug}.yaml")]
    events = AuditEvent.objects.count()
    report = import_documents(documents, user=admin_user)
    assert not report.changed, report.text()
    assert AuditEvent.objects.count() == events
    assert {product.slug: to_yaml(product) for product in DataProduct.objects.all()} == exported
