"""The people named on a product (owner, stewards) hold their rights as guardian object permissions.

The fields on the product are the human-facing record; guardian's tables are what the
access policy reads. These functions keep the two in step.
"""

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
    content_type = ContentType.objects.get_for_model(product)
    permissions = Permission.objects.filter(content_type=content_type, codename__in=codenames)
    rows = [model(user=user, permission=permission, content_object=product) for permission in permissions]
    model.objects.bulk_create(rows, ignore_conflicts=True)


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
