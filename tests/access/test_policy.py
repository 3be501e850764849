"""The access policy as one table: role × action × product state → allowed?

Roles: anonymous, a signed-in outsider, a product manager who does not own the
product, its steward, its owner, an admin. Product states: draft, published,
deprecated, retired.
"""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

from access import policy
from products.models import DataProduct, Goal
from tests import factories

STATES = ["draft", "published", "deprecated", "retired"]
ROLES = ["anonymous", "outsider", "product_manager", "steward", "owner", "admin"]

# What each role may do whatever the state, and what only non-drafts open up.
ALWAYS = {
    "anonymous": set(),
    "outsider": set(),
    "product_manager": set(),
    "steward": {"view", "change"},
    "owner": {"view", "change", "delete"},
    "admin": {"view", "change", "delete"},
}
PUBLIC_EXTRA = {"view"}

TABLE = [
    (
        role,
        action,
        state,
        action in ALWAYS[role] or (role != "anonymous" and state != "draft" and action in PUBLIC_EXTRA),
    )
    for role in ROLES
    for action in ["view", "change", "delete"]
    for state in STATES
]


@pytest.fixture
def cast(db):
    owner = factories.ProductManagerFactory(username="owner")
    steward = factories.UserFactory(username="steward")
    return {
        "anonymous": AnonymousUser(),
        "outsider": factories.UserFactory(username="outsider"),
        "product_manager": factories.ProductManagerFactory(username="other_pm"),
        "steward": steward,
        "owner": owner,
        "admin": factories.AdminFactory(username="root"),
    }


@pytest.mark.parametrize(("role", "action", "state", "allowed"), TABLE)
def test_policy_table(cast, role, action, state, allowed):
    product = factories.DataProductFactory(owner=cast["owner"], stewards=[cast["steward"]], status=state)
    user = cast[role]
    assert policy.can(user, action, product) is allowed
    assert (product in DataProduct.objects.restrict(user, action)) is allowed


@pytest.mark.parametrize(("role", "action", "state", "allowed"), TABLE)
def test_spec_parts_follow_their_product(cast, role, action, state, allowed):
    product = factories.DataProductFactory(owner=cast["owner"], stewards=[cast["steward"]], status=state)
    goal = factories.GoalFactory(product=product)
    # Changing or deleting a goal is changing its product.
    product_action = "view" if action == "view" else "change"
    expected = policy.can(cast[role], product_action, product)
    assert (goal in Goal.objects.restrict(cast[role], action)) is expected


@pytest.mark.parametrize("role", ROLES)
def test_only_product_managers_and_admins_create_products(cast, role):
    assert policy.can_add(cast[role], DataProduct) is (role in {"owner", "product_manager", "admin"})


def test_it_hides_drafts_from_outsiders_with_a_404(cast):
    draft = factories.DataProductFactory(owner=cast["owner"], status="draft")
    with pytest.raises(Http404):
        policy.require(cast["outsider"], "change", draft)
    with pytest.raises(Http404):
        policy.get_visible_or_404(DataProduct.objects.all(), cast["outsider"], slug=draft.slug)


def test_it_answers_403_when_visible_but_not_changeable(cast):
    published = factories.DataProductFactory(owner=cast["owner"], status="published")
    with pytest.raises(PermissionDenied):
        policy.require(cast["outsider"], "change", published)
    policy.require(cast["outsider"], "view", published)


def test_a_new_owner_takes_over_and_the_old_one_loses_rights(cast):
    product = factories.DataProductFactory(owner=cast["owner"], status="draft")
    product.owner = cast["product_manager"]
    product.save()
    assert policy.can(cast["product_manager"], "delete", product)
    assert not policy.can(cast["owner"], "view", product)


def test_removing_a_steward_removes_their_rights(cast):
    product = factories.DataProductFactory(owner=cast["owner"], stewards=[cast["steward"]], status="draft")
    product.stewards.remove(cast["steward"])
    assert not policy.can(cast["steward"], "view", product)
    product.stewards.add(cast["steward"])
    product.stewards.clear()
    assert not policy.can(cast["steward"], "change", product)


def test_an_owner_who_was_steward_keeps_steward_rights_after_handing_over(cast):
    product = factories.DataProductFactory(owner=cast["owner"], stewards=[cast["owner"]], status="draft")
    product.owner = cast["product_manager"]
    product.save()
    assert policy.can(cast["owner"], "change", product)
    assert not policy.can(cast["owner"], "delete", product)


def test_group_object_permissions_count(cast):
    from django.contrib.auth.models import Group
    from guardian.shortcuts import assign_perm

    product = factories.DataProductFactory(owner=cast["owner"], status="draft")
    analysts = Group.objects.create(name="Analysts")
    cast["outsider"].groups.add(analysts)
    assign_perm("view_dataproduct", analysts, product)
    assert policy.can(cast["outsider"], "view", product)
    assert not policy.can(cast["outsider"], "change", product)


def test_inactive_users_see_nothing(cast):
    product = factories.DataProductFactory(owner=cast["owner"], status="published")
    cast["owner"].is_active = False
    cast["owner"].save()
    assert not policy.can(cast["owner"], "view", product)


def test_models_without_direct_tables_use_guardian_generic_permissions(cast):
    """Connections are admin-only, but an admin can still grant one to a user through guardian."""
    from guardian.shortcuts import assign_perm

    from products.models import Connection

    connection = Connection(name="warehouse")
    connection.set_url("sqlite:///warehouse.db")
    connection.save()
    assert list(Connection.objects.restrict(cast["outsider"], "view")) == []
    assert list(Connection.objects.restrict(cast["admin"], "view")) == [connection]
    assign_perm("view_connection", cast["outsider"], connection)
    assert list(Connection.objects.restrict(cast["outsider"], "view")) == [connection]


def test_a_parent_can_be_two_steps_away(cast):
    from products.models import OutputColumn

    draft = factories.DataProductFactory(owner=cast["owner"], stewards=[cast["steward"]], status="draft")
    column = factories.OutputColumnFactory(output=factories.OutputFactory(product=draft))
    assert list(OutputColumn.objects.restrict(cast["steward"], "change")) == [column]
    assert list(OutputColumn.objects.restrict(cast["outsider"], "view")) == []
