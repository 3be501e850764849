"""The people named on a product (owner, stewards) hold their rights as guardian object permissions.

The fields on the product are the human-facing record; guardian's tables are what the
access policy reads. These functions keep the two in step.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from guardian.shortcuts import remove_perm
from guardian.utils import get_user_obj_perms_model

OWNER_PERMS = ("view_dataproduct", "change_dataproduct", "delete_dataproduct", "manage_access")
STEWARD_PERMS = ("view_dataproduct", "change_dataproduct")


def grant(product, user, codenames: tuple[str, ...]) -> None:
    """Give ``user`` these permissions on ``product``: two queries, where guardian's ``assign_perm`` takes four each.

    Rows the user already holds stay as they are (the table's unique key; ``ignore_conflicts``).
    """
    model = get_user_obj_perms_model(product)
    rows = [
        model(user=user, permission=permission, content_object=product)
        for permission in permissions(product, codenames)
    ]
    model.objects.bulk_create(rows, ignore_conflicts=True)


_remembered: ContextVar[dict | None] = ContextVar("role_permissions", default=None)


@contextmanager
def permissions_remembered() -> Iterator[None]:
    """Inside the block each set of permissions is read once: a spec import grants hundreds of owners."""
    token = _remembered.set({})
    try:
        yield
    finally:
        _remembered.reset(token)


def permissions(product, codenames: tuple[str, ...]) -> list[Permission]:
    content_type = ContentType.objects.get_for_model(product)  # cached by Django
    remembered, key = _remembered.get(), (content_type.pk, codenames)
    if remembered is not None and key in remembered:
        return remembered[key]
    found = list(Permission.objects.filter(content_type=content_type, codename__in=codenames))
    if remembered is not None:
        remembered[key] = found
    return found


def grant_owner(product, user) -> None:
    grant(product, user, OWNER_PERMS)


def revoke_owner(product, user) -> None:
    kept = set(STEWARD_PERMS) if product.stewards.filter(pk=user.pk).exists() else set()
    for perm in OWNER_PERMS:
        if perm not in kept:
            remove_perm(perm, user, product)


def grant_steward(product, user) -> None:
    grant(product, user, STEWARD_PERMS)


def revoke_steward(product, user) -> None:
    if user.pk == product.owner_id:
        return
    for perm in STEWARD_PERMS:
        remove_perm(perm, user, product)
