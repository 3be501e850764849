"""Status, sunset date and successor in an imported spec move the product through the lifecycle's rules."""

import datetime

import pytest
from django.utils import timezone

from access.models import AuditAction, AuditEvent
from products.choices import Status
from products.specs.importer import import_documents
from products.specs.loader import SpecErrors
from tests import factories

from .conftest import counts, documents, spec_of

pytestmark = pytest.mark.django_db

LATER = (timezone.localdate() + datetime.timedelta(days=60)).isoformat()


@pytest.fixture
def published(alice, bob):
    product = factories.DataProductFactory(slug="orders-hub", owner=alice, stewards=[bob], status=Status.PUBLISHED)
    output = factories.OutputFactory(product=product, name="orders")
    reader = factories.DataProductFactory(slug="reader", owner=bob, status=Status.PUBLISHED)
    factories.ProductInputFactory(product=reader, source_output=output)
    return product


@pytest.fixture
def successor(alice):
    return factories.DataProductFactory(slug="orders-hub-2", owner=alice, status=Status.PUBLISHED)


def deprecated_spec(product, successor=None, sunset=LATER) -> dict:
    data = spec_of(product)
    data["metadata"]["status"] = "deprecated"
    if sunset:
        data["metadata"]["sunset_date"] = sunset
    if successor is not None:
        data["metadata"]["replaced_by"] = successor.slug
    return data


def test_deprecating_through_an_import_is_audited_and_tells_downstream_owners(
    published, successor, alice, bob, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        report = import_documents(documents(deprecated_spec(published, successor)), user=alice)
    published.refresh_from_db()
    assert (published.status, published.sunset_date.isoformat(), published.replaced_by) == (
        Status.DEPRECATED, LATER, successor,
    )  # fmt: skip
    assert (
        f"~ product 'orders-hub': status published → deprecated, sunset_date (none) → {LATER}"
        in (report.products[0].lines[0])
    )
    event = AuditEvent.objects.get(action=AuditAction.LIFECYCLE_CHANGED, product_slug="orders-hub")
    assert (event.details["from"], event.details["to"], event.details["replaced_by"]) == (
        "published", "deprecated", "orders-hub-2",
    )  # fmt: skip
    assert [message.to for message in mailoutbox] == [[bob.email]]


def test_deprecating_without_a_sunset_date_is_refused_at_its_path(published, alice):
    before = counts()
    with pytest.raises(SpecErrors) as caught:
        import_documents(documents(deprecated_spec(published, sunset=None)), user=alice)
    assert [error.path for error in caught.value.errors] == ["metadata.sunset_date"]
    assert counts() == before


def test_a_steward_may_not_retire_the_product(published, bob):
    published.status, published.sunset_date = Status.DEPRECATED, timezone.localdate()
    published.save()
    data = spec_of(published)
    data["metadata"]["status"] = "retired"
    with pytest.raises(SpecErrors) as caught:
        import_documents(documents(data), user=bob)
    [error] = caught.value.errors
    assert error.path == "metadata.status" and "owner" in error.message
    published.refresh_from_db()
    assert published.status == Status.DEPRECATED


def test_a_move_the_lifecycle_forbids_is_refused(published, alice):
    data = spec_of(published)
    data["metadata"]["status"] = "draft"
    before = counts()
    with pytest.raises(SpecErrors) as caught:
        import_documents(documents(data), user=alice)
    [error] = caught.value.errors
    assert error.path == "metadata.status"
    assert counts()["products.DataProduct"] == before["products.DataProduct"]


def test_a_dry_run_deprecation_writes_nothing_and_sends_nothing(
    published, alice, mailoutbox, django_capture_on_commit_callbacks
):
    before = counts()
    with django_capture_on_commit_callbacks(execute=True):
        report = import_documents(documents(deprecated_spec(published)), user=alice, dry_run=True)
    assert "status published → deprecated" in report.text()
    assert counts() == before
    assert mailoutbox == []


def test_a_new_product_starts_in_the_status_its_document_gives(published, successor, alice):
    data = deprecated_spec(published, successor)
    data["metadata"]["slug"] = "orders-archive"
    data["spec"].pop("outputs", None)
    import_documents(documents(data), user=alice)
    created = type(published).objects.get(slug="orders-archive")
    assert (created.status, created.replaced_by) == (Status.DEPRECATED, successor)
    assert not AuditEvent.objects.filter(action=AuditAction.LIFECYCLE_CHANGED, product_slug="orders-archive").exists()
