"""The people named on a product (owner, stewards) hold their rights as guardian object permissions.

The fields on the product are the human-facing record; guardian's tables are what the
access policy reads. These functions keep the two in step.
"""

from guardian.shortcuts import assign_perm, remove_perm

OWNER_PERMS = ("view_dataproduct", "change_dataproduct", "delete_dataproduct", "manage_access")
STEWARD_PERMS = ("view_dataproduct", "change_dataproduct")


def grant_owner(product, user) -> None:
    for perm in OWNER_PERMS:
        assign_perm(perm, user, product)


def revoke_owner(product, user) -> None:
    kept = set(STEWARD_PERMS) if product.stewards.filter(pk=user.pk).exists() else set()
    for perm in OWNER_PERMS:
        if perm not in kept:
            remove_perm(perm, user, product)


def grant_steward(product, user) -> None:
    for perm in STEWARD_PERMS:
        assign_perm(perm, user, product)


def revoke_steward(product, user) -> None:
    if user.pk == product.owner_id:
        return
    for perm in STEWARD_PERMS:
        remove_perm(perm, user, product)
