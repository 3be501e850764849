"""The owner's and stewards' rights are guardian object permissions, kept in step with the product's fields."""

import pytest
from guardian.shortcuts import get_perms

from products import roles
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_owner_holds_the_owner_permissions_and_stewards_theirs(product, bob):
    product.stewards.add(bob)
    assert sorted(get_perms(product.owner, product)) == sorted(roles.OWNER_PERMS)
    assert sorted(get_perms(bob, product)) == sorted(roles.STEWARD_PERMS)


def test_granting_again_adds_no_second_row(product):
    from products.models import DataProductUserObjectPermission

    rows = DataProductUserObjectPermission.objects.filter(user=product.owner, content_object=product)
    before = rows.count()
    roles.grant_owner(product, product.owner)
    roles.grant_steward(product, product.owner)
    assert rows.count() == before == len(roles.OWNER_PERMS)


def test_handing_the_product_on_moves_the_owner_permissions(product, bob):
    previous = product.owner
    product.owner = bob
    product.save()
    assert sorted(get_perms(bob, product)) == sorted(roles.OWNER_PERMS)
    assert get_perms(previous, product) == []


def test_a_grant_on_one_product_gives_nothing_on_another(product, bob):
    other = factories.DataProductFactory(slug="other")
    roles.grant_steward(product, bob)
    assert get_perms(bob, other) == []


def test_inside_permissions_remembered_each_set_is_read_once(product, bob):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    other = factories.DataProductFactory(slug="other")
    with roles.permissions_remembered(), CaptureQueriesContext(connection) as queries:
        roles.grant_steward(product, bob)
        roles.grant_steward(other, bob)
    reads = [query for query in queries if 'FROM "auth_permission"' in query["sql"]]
    assert len(reads) == 1
    assert sorted(get_perms(bob, other)) == sorted(roles.STEWARD_PERMS)
