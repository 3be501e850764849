"""policy.readable lists, in one query, exactly the outputs read_level says the user may read."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from guardian.shortcuts import assign_perm

from access import grants
from access.models import AccessGrant
from access.policy import MASKED, UNMASKED, read_level, readable
from products.models import Output
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(product, draft, alice, bob, charlie, admin_user):
    """Outputs reached every way there is, for a cast of readers."""
    dora = factories.UserFactory(username="dora")
    analysts = Group.objects.create(name="Analysts")
    dora.groups.add(analysts)
    eve = factories.UserFactory(username="eve")
    readers = Group.objects.create(name="Readers")
    readers.permissions.add(Permission.objects.get(codename="read_output"))
    eve.groups.add(readers)
    names = ["plain", "perm", "perm_clear", "group_perm", "grant", "group_grant", "expired", "revoked"]
    outs = {name: factories.OutputFactory(product=product, name=name) for name in names}
    outs["hidden"] = factories.OutputFactory(product=draft, name="hidden")
    assign_perm("read_output", charlie, outs["perm"])
    assign_perm("read_output_unmasked", charlie, outs["perm_clear"])
    assign_perm("read_output", analysts, outs["group_perm"])
    assign_perm("read_output_unmasked", charlie, outs["hidden"])  # never beyond what one may see
    grants.grant(outs["grant"], user=charlie, level=UNMASKED, days=3, by=alice)
    grants.grant(outs["group_grant"], group=analysts, level=MASKED, by=alice)
    expired = grants.grant(outs["expired"], user=charlie, level=MASKED, days=1, by=alice)
    AccessGrant.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    grants.revoke(grants.grant(outs["revoked"], user=dora, level=MASKED, by=alice), by=alice)
    return [alice, bob, charlie, dora, eve, admin_user, factories.UserFactory(username="frank")]


@pytest.mark.parametrize("level", [MASKED, UNMASKED])
def test_readable_agrees_with_read_level_for_every_reader_and_output(world, level):
    wanted = {MASKED: {MASKED, UNMASKED}, UNMASKED: {UNMASKED}}[level]
    for user in world:
        expected = {output.name for output in Output.objects.all() if read_level(user, output) in wanted}
        assert set(readable(Output.objects.all(), user, level).values_list("name", flat=True)) == expected, user


def test_the_matrix_is_not_trivial(world):
    charlie, dora = world[2], world[3]
    assert set(readable(Output.objects.all(), charlie).values_list("name", flat=True)) == {
        "perm", "perm_clear", "grant"
    }  # fmt: skip
    assert set(readable(Output.objects.all(), dora).values_list("name", flat=True)) == {"group_perm", "group_grant"}
    assert set(readable(Output.objects.all(), charlie, UNMASKED).values_list("name", flat=True)) == {
        "perm_clear", "grant"
    }  # fmt: skip


def test_readable_is_one_query(world):
    charlie = world[2]
    charlie = type(charlie).objects.get(pk=charlie.pk)  # no cached permissions
    readable(Output.objects.all(), charlie)  # warm the content type cache
    charlie = type(charlie).objects.get(pk=charlie.pk)
    with CaptureQueriesContext(connection) as queries:
        list(readable(Output.objects.all(), charlie))
    # The model-wide permissions (Django's permission cache) and the rows themselves.
    assert len(queries) <= 3


def test_an_unknown_level_is_refused(product, charlie):
    with pytest.raises(ValueError):
        readable(Output.objects.all(), charlie, "everything")
