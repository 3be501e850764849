"""Who reads an output's rows, and how: in clear, masked, or not at all."""

import pytest
from django.contrib.auth.models import AnonymousUser, Group, Permission
from guardian.shortcuts import assign_perm, remove_perm

from access.policy import MASKED, UNMASKED, read_level
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def output(product):
    return factories.OutputFactory(product=product, name="orders")


def test_the_owner_reads_in_clear_and_stewards_masked(output, alice, bob):
    assert read_level(alice, output) == UNMASKED
    assert read_level(bob, output) == MASKED


def test_admins_read_in_clear_and_anonymous_visitors_not_at_all(output, admin_user):
    assert read_level(admin_user, output) == UNMASKED
    assert read_level(AnonymousUser(), output) is None


def test_seeing_a_published_product_is_not_reading_its_data(output, charlie):
    assert read_level(charlie, output) is None


def test_a_grant_on_the_output_gives_its_level_and_revoking_takes_it_away(output, charlie):
    assign_perm("read_output", charlie, output)
    assert read_level(charlie, output) == MASKED
    assign_perm("read_output_unmasked", charlie, output)
    assert read_level(charlie, output) == UNMASKED
    remove_perm("read_output_unmasked", charlie, output)
    remove_perm("read_output", charlie, output)
    assert read_level(charlie, output) is None


def test_a_grant_covers_that_output_only(output, charlie, product):
    other = factories.OutputFactory(product=product, name="order_lines")
    assign_perm("read_output", charlie, output)
    assert read_level(charlie, other) is None


def test_a_group_grant_counts_for_its_members(output, charlie):
    analysts = Group.objects.create(name="North sales analysts")
    charlie.groups.add(analysts)
    assign_perm("read_output", analysts, output)
    assert read_level(charlie, output) == MASKED


def test_a_model_wide_grant_through_a_group_covers_every_output_it_can_see(output, charlie):
    readers = Group.objects.create(name="Data readers")
    readers.permissions.add(Permission.objects.get(codename="read_output"))
    charlie.groups.add(readers)
    assert read_level(charlie, output) == MASKED


def test_a_grant_does_not_open_a_product_the_user_cannot_see(draft, charlie):
    hidden = factories.OutputFactory(product=draft, name="scores")
    assign_perm("read_output_unmasked", charlie, hidden)
    assert read_level(charlie, hidden) is None


def test_admins_grant_reading_in_the_django_admin(client, admin_user, output, charlie):
    client.force_login(admin_user)
    url = f"/admin/products/output/{output.pk}/permissions/user-manage/{charlie.pk}/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"permissions": ["read_output"]})
    assert response.status_code == 302
    assert read_level(charlie, output) == MASKED


def test_only_admins_reach_the_permissions_page(client, alice, output):
    client.force_login(alice)
    response = client.get(f"/admin/products/output/{output.pk}/permissions/")
    assert response.status_code in {302, 403}
