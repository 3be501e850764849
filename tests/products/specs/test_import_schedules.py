"""Checks imported with a spec are scheduled: once per output and cron, when the import ends."""

import pytest
from django_celery_beat.models import PeriodicTask

from products.specs.importer import import_documents
from quality.schedules import NAME_PREFIX
from tests import factories
from tests.products.specs.conftest import documents, spec_of

pytestmark = pytest.mark.django_db


def test_imported_checks_get_their_schedules(product, alice):
    output = factories.OutputFactory(product=product, name="orders")
    factories.OutputColumnFactory(output=output, name="order_id")
    spec = spec_of(product)
    spec["spec"]["outputs"][0]["checks"] = [
        {"name": f"rows {n}", "type": "row_count", "schedule": "0 6 * * *"} for n in range(3)
    ] + [{"name": "ids", "type": "missing_count", "column": "order_id", "schedule": "*/30 * * * *"}]
    import_documents(documents(spec), user=alice)
    names = set(PeriodicTask.objects.filter(name__startswith=NAME_PREFIX).values_list("name", flat=True))
    assert names == {f"{NAME_PREFIX}{output.pk} @ 0 6 * * *", f"{NAME_PREFIX}{output.pk} @ */30 * * * *"}
