"""Who may grant, revoke and decide requests for an output: admins, the owner, trusted stewards."""

import pytest
from django.contrib.auth.models import AnonymousUser, Group, Permission
from guardian.shortcuts import assign_perm

from access.policy import access_root, can_manage_access, managed_by
from products.models import DataProduct
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def output(product):
    return factories.OutputFactory(product=product, name="orders")


def test_an_output_is_governed_by_its_product(output, product):
    assert access_root(output) == product
    assert access_root(product) == product


def test_the_owner_and_admins_manage_access_but_a_steward_does_not_by_default(output, alice, bob, admin_user):
    assert can_manage_access(alice, output)
    assert can_manage_access(admin_user, output)
    assert not can_manage_access(bob, output)
    assert not can_manage_access(AnonymousUser(), output)


def test_a_steward_given_manage_access_on_the_product_manages_its_outputs(output, product, bob):
    assign_perm("manage_access", bob, product)
    assert can_manage_access(bob, output)
    assert list(managed_by(DataProduct.objects.all(), bob)) == [product]


def test_manage_access_through_a_group_on_one_product_covers_that_product_only(output, product, charlie):
    stewards = Group.objects.create(name="Access stewards")
    charlie.groups.add(stewards)
    assign_perm("manage_access", stewards, product)
    other = factories.DataProductFactory()
    assert can_manage_access(charlie, output)
    assert set(managed_by(DataProduct.objects.all(), charlie)) == {product}
    assert not can_manage_access(charlie, other)


def test_model_wide_manage_access_covers_every_product(output, charlie):
    managers = Group.objects.create(name="Data governance")
    managers.permissions.add(Permission.objects.get(codename="manage_access"))
    charlie.groups.add(managers)
    other = factories.DataProductFactory()
    assert can_manage_access(charlie, output)
    assert set(managed_by(DataProduct.objects.all(), charlie)) >= {output.product, other}
