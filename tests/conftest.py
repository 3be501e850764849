"""The fixed cast (after Healthchecks' hc/test.py): who is who in every test.

* alice — a product manager who owns the products under test
* bob — alice's steward on them
* charlie — signed in, but an outsider to alice's products
* admin — a superuser
"""

import pytest
from rest_framework.test import APIClient

from tests import factories


@pytest.fixture(autouse=True)
def data_root(settings, tmp_path):
    """Each test gets its own empty data root."""
    root = tmp_path / "data"
    root.mkdir()
    settings.LODESTAR_DATA_ROOT = root
    return root


@pytest.fixture
def alice(db):
    return factories.ProductManagerFactory(username="alice")


@pytest.fixture
def bob(db):
    return factories.UserFactory(username="bob")


@pytest.fixture
def charlie(db):
    return factories.UserFactory(username="charlie")


@pytest.fixture
def admin_user(db):
    return factories.AdminFactory(username="admin")


@pytest.fixture
def product(alice, bob):
    """A published product owned by alice and stewarded by bob."""
    return factories.DataProductFactory(slug="cross-sell", name="Cross-sell", owner=alice, stewards=[bob])


@pytest.fixture
def draft(alice, bob):
    return factories.DataProductFactory(slug="churn", name="Churn", owner=alice, stewards=[bob], status="draft")


def client_for(user):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def api():
    """``api(user)`` → an API client signed in as that user (None for anonymous)."""
    return client_for
