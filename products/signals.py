from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed, post_save, pre_save
from django.dispatch import Signal, receiver

from . import roles
from .models import DataProduct


@receiver(pre_save, sender=DataProduct)
def remember_previous_owner(sender, instance: DataProduct, **kwargs) -> None:
    instance._previous_owner_id = (
        DataProduct.objects.filter(pk=instance.pk).values_list("owner_id", flat=True).first() if instance.pk else None
    )


@receiver(post_save, sender=DataProduct)
def sync_owner_permissions(sender, instance: DataProduct, created: bool, raw: bool = False, **kwargs) -> None:
    if raw:
        return
    previous = getattr(instance, "_previous_owner_id", None)
    if previous == instance.owner_id and not created:
        return
    if previous and previous != instance.owner_id:
        roles.revoke_owner(instance, get_user_model().objects.get(pk=previous))
    roles.grant_owner(instance, instance.owner)


@receiver(m2m_changed, sender=DataProduct.stewards.through)
def sync_steward_permissions(sender, instance, action: str, reverse: bool, pk_set, **kwargs) -> None:
    if reverse or action not in {"post_add", "post_remove", "pre_clear"}:
        return
    users = get_user_model().objects.filter(pk__in=pk_set) if pk_set else instance.stewards.all()
    for user in users:
        if action == "post_add":
            roles.grant_steward(instance, user)
        else:
            roles.revoke_steward(instance, user)


# Model-level permissions each role group holds. Object-level rights (owner, steward)
# are granted per product by the signals above.
ROLE_PERMISSIONS = {
    "Product managers": ["products.add_dataproduct", "products.add_tag"],
}


def ensure_roles(sender, **kwargs) -> None:
    """Create the role groups and give them their permissions (idempotent; runs after migrate)."""
    from django.contrib.auth.models import Group, Permission

    for group_name, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        for perm in perms:
            app_label, codename = perm.split(".")
            permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if permission is not None:
                group.permissions.add(permission)


# Sent by ``manage.py seed_demo`` once the demo products are loaded, so other apps (quality)
# can add their part of the demo without products importing them.
demo_seeded = Signal()
