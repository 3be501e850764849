"""The hub-wide permissions table: who can read what, and who manages access, in one list.

Three sources: permanent read permissions on outputs (guardian, to users and groups), grants in
force, and ``manage_access`` on products. Searched by user, group and product (slug or name).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import models
from django.db.models import Q
from guardian.utils import get_group_obj_perms_model, get_user_obj_perms_model

from . import policy
from .models import AccessGrant
from .readable import readable_model, root_model, with_objects


@dataclass
class Row:
    kind: str  # "permission", "grant" or "manages access"
    holder_kind: str  # "user" or "group"
    holder: str
    product: models.Model
    output: models.Model | None
    level: str
    expires_at: datetime | None = None

    @property
    def sort_key(self) -> tuple:
        return (str(self.product), self.output.name if self.output else "", self.holder_kind, self.holder, self.kind)


def rows(*, user: str = "", group: str = "", product: str = "") -> list[Row]:
    """Every row matching the search (each term a case-insensitive part of the name)."""
    products = root_model()._default_manager.all()
    if product:
        products = products.filter(Q(slug__icontains=product) | Q(name__icontains=product))
    outputs = readable_model()._default_manager.filter(**{f"{readable_model().access_parent}__in": products})
    found = read_permissions(outputs, user, group) + grant_rows(outputs, user, group)
    found += manager_rows(products, user, group)
    return sorted(found, key=lambda row: row.sort_key)


def holder_filters(user: str, group: str) -> list[tuple[str, Q]]:
    """Which holder kinds to list, and how: a user search leaves groups out, and the other way round."""
    kinds = []
    if not group:
        kinds.append(("user", Q(user__username__icontains=user) if user else Q()))
    if not user:
        kinds.append(("group", Q(group__name__icontains=group) if group else Q()))
    return kinds


def read_permissions(outputs: models.QuerySet, user: str, group: str) -> list[Row]:
    model = readable_model()
    levels = {codename: level for level, codename in policy.read_codenames(model).items()}
    tables = {"user": get_user_obj_perms_model(model), "group": get_group_obj_perms_model(model)}
    found = []
    for kind, condition in holder_filters(user, group):
        perms = tables[kind].objects.filter(condition, permission__codename__in=levels, content_object__in=outputs)
        for perm in perms.select_related(kind, "permission", "content_object__product"):
            holder = getattr(perm, kind)
            level = levels[perm.permission.codename]
            found.append(Row("permission", kind, str(holder), perm.content_object.product, perm.content_object, level))
    return found


def grant_rows(outputs: models.QuerySet, user: str, group: str) -> list[Row]:
    found = []
    active = AccessGrant.objects.active().filter(object_id__in=outputs.values("pk"))
    for kind, condition in holder_filters(user, group):
        held = with_objects(active.filter(condition, **{f"{kind}__isnull": False}).select_related(kind))
        for grant in held:
            obj = grant.content_object
            found.append(Row("grant", kind, str(grant.holder), obj.product, obj, grant.level, grant.expires_at))
    return found


def manager_rows(products: models.QuerySet, user: str, group: str) -> list[Row]:
    model = root_model()
    tables = {"user": get_user_obj_perms_model(model), "group": get_group_obj_perms_model(model)}
    found = []
    for kind, condition in holder_filters(user, group):
        perms = tables[kind].objects.filter(
            condition, permission__codename=policy.MANAGE_ACCESS, content_object__in=products
        )
        for perm in perms.select_related(kind, "content_object"):
            found.append(Row("manages access", kind, str(getattr(perm, kind)), perm.content_object, None, ""))
    return found
