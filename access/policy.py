"""The one door for permissions: who may see and do what.

Every view, API endpoint, search and export asks this module; nothing filters by
hand. It is generic over models and users, and knows nothing of data products:

* A superuser may do everything.
* A model-level permission (``app.change_model``, via a user's groups) covers
  every object of that model.
* An object-level permission (django-guardian, direct foreign-key tables) covers
  one object.
* A model may declare rows open to every signed-in user for an action, through
  its queryset's ``open_to_all(action)`` (data products: published ones).
* A model whose objects belong to a parent declares ``access_parent`` (a lookup
  such as ``"product"``): it is seen with its parent and changed with it.

An object a user may not see is a 404; one they may see but not act on, a 403.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import Q
from django.db.models.functions import Cast
from django.http import Http404
from guardian.core import ObjectPermissionChecker
from guardian.utils import get_group_obj_perms_model, get_user_obj_perms_model

from .models import MASKED, UNMASKED, AccessGrant

VIEW, ADD, CHANGE, DELETE = "view", "add", "change", "delete"

# What an action on a child object (a goal, a KPI) asks of its parent (the product).
PARENT_ACTION = {VIEW: VIEW, ADD: CHANGE, CHANGE: CHANGE, DELETE: CHANGE}


def codename(model: type[models.Model], action: str) -> str:
    return f"{action}_{model._meta.model_name}"


def perm_name(model: type[models.Model], action: str) -> str:
    return f"{model._meta.app_label}.{codename(model, action)}"


def is_signed_in(user) -> bool:
    return user is not None and not isinstance(user, AnonymousUser) and user.is_authenticated and user.is_active


def has_model_perm(user, model: type[models.Model], action: str) -> bool:
    """True when the user may do ``action`` on every object of ``model``."""
    if not is_signed_in(user):
        return False
    return user.is_superuser or user.has_perm(perm_name(model, action))


def parent_model(model: type[models.Model]) -> type[models.Model] | None:
    lookup = getattr(model, "access_parent", None)
    if not lookup:
        return None
    for name in lookup.split("__"):  # "output__product": through the output to its product
        model = model._meta.get_field(name).related_model
    return model


def granted_object_ids(table: type[models.Model], model: type[models.Model], perm, **holder) -> models.QuerySet:
    """A subquery of the ids of ``model`` objects on which ``holder`` holds ``perm`` (one codename or several).

    Our own models use guardian's direct foreign-key tables; any other model falls back
    to guardian's generic table, whose object ids are strings to be cast.
    """
    codenames = [perm] if isinstance(perm, str) else list(perm)
    rows = table.objects.filter(permission__codename__in=codenames, **holder)
    if "content_object" in {field.name for field in table._meta.concrete_fields}:
        return rows.values("content_object")
    content_type = ContentType.objects.get_for_model(model)
    pk_type = models.BigIntegerField() if isinstance(model._meta.pk, models.IntegerField) else models.CharField()
    return rows.filter(content_type=content_type).annotate(object_id=Cast("object_pk", pk_type)).values("object_id")


def object_perm_q(user, model: type[models.Model], action: str) -> Q:
    """Rows the user holds ``action`` on through guardian, directly or through a group."""
    return held_perm_q(user, model, codename(model, action))


def held_perm_q(user, model: type[models.Model], codenames) -> Q:
    """Rows on which the user holds one of ``codenames`` through guardian, directly or through a group."""
    by_user = granted_object_ids(get_user_obj_perms_model(model), model, codenames, user=user)
    by_group = granted_object_ids(get_group_obj_perms_model(model), model, codenames, group__in=user.groups.all())
    return Q(pk__in=by_user) | Q(pk__in=by_group)


def restrict(queryset: models.QuerySet, user, action: str = VIEW) -> models.QuerySet:
    """The rows of ``queryset`` that ``user`` may do ``action`` on."""
    model = queryset.model
    if not is_signed_in(user):
        return queryset.none()
    parent = parent_model(model)
    if parent is not None:
        parent_action = PARENT_ACTION[action]
        if has_model_perm(user, parent, parent_action):
            return queryset
        allowed_parents = restrict(parent._default_manager.all(), user, parent_action)
        return queryset.filter(**{f"{model.access_parent}__in": allowed_parents.values("pk")})
    if has_model_perm(user, model, action):
        return queryset
    condition = object_perm_q(user, model, action)
    open_to_all = getattr(queryset, "open_to_all", None)
    if open_to_all is not None:
        condition |= open_to_all(action)
    return queryset.filter(condition)


def can(user, action: str, obj: models.Model) -> bool:
    """May ``user`` do ``action`` on ``obj``?"""
    model = type(obj)
    return restrict(model._default_manager.filter(pk=obj.pk), user, action).exists()


def can_add(user, model: type[models.Model], parent: models.Model | None = None) -> bool:
    """May ``user`` create a ``model`` (under ``parent``, for a child model)?"""
    if parent is not None:
        return can(user, PARENT_ACTION[ADD], parent)
    return has_model_perm(user, model, ADD)


def get_visible_or_404(queryset: models.QuerySet, user, **lookup) -> models.Model:
    """The object the lookup names, or a 404 if it does not exist or the user may not see it."""
    try:
        return restrict(queryset, user, VIEW).get(**lookup)
    except queryset.model.DoesNotExist:
        raise Http404(f"No {queryset.model._meta.verbose_name} matches the given query.") from None


def require(user, action: str, obj: models.Model) -> None:
    """Raise 404 if the user may not see ``obj``, 403 if they may see it but not do ``action``."""
    if not can(user, VIEW, obj):
        raise Http404(f"No {obj._meta.verbose_name} matches the given query.")
    if action != VIEW and not can(user, action, obj):
        raise PermissionDenied(f"You may not {action} this {obj._meta.verbose_name}.")


# --- Reading data ------------------------------------------------------------------------------
# Seeing an object's description is not reading its data. A model whose objects hold rows declares
# the permissions ``read_<model>`` (rows with personal data masked) and ``read_<model>_unmasked``,
# granted per object (guardian, permanent) or per model (groups); access grants (``AccessGrant``)
# give the same levels for a time. A model may name readers implied by its own rules with
# ``implied_read_level(user)`` on the object (e.g. a product's owner) and, for listing,
# ``implied_reader_ids(user, level)`` on its queryset (querysets of ids); the two must agree.
# The levels that satisfy asking for a level: unmasked reading includes masked reading.
SATISFIES = {MASKED: (MASKED, UNMASKED), UNMASKED: (UNMASKED,)}


def read_codenames(model: type[models.Model]) -> dict[str, str]:
    name = model._meta.model_name
    return {MASKED: f"read_{name}", UNMASKED: f"read_{name}_unmasked"}


def read_level(user, obj: models.Model) -> str | None:
    """How ``user`` may read ``obj``'s rows: ``UNMASKED``, ``MASKED`` or not at all (None)."""
    if not can(user, VIEW, obj):
        return None
    if user.is_superuser:
        return UNMASKED
    levels = granted_read_levels(user, obj)
    implied = getattr(obj, "implied_read_level", None)
    if implied is not None:
        levels.add(implied(user))
    return UNMASKED if UNMASKED in levels else MASKED if MASKED in levels else None


def granted_read_levels(user, obj: models.Model) -> set[str]:
    """The read levels granted on ``obj``: per object (guardian, to the user or a group), model-wide,
    or by an access grant in force now (so an expired or revoked grant stops on the very next read)."""
    app = obj._meta.app_label
    codenames = read_codenames(type(obj))
    on_object = set(ObjectPermissionChecker(user).get_perms(obj))  # one look-up for both levels
    levels = {
        level for level, codename in codenames.items() if codename in on_object or user.has_perm(f"{app}.{codename}")
    }
    return levels | set(grants_on(type(obj)).held_by(user).filter(object_id=obj.pk).values_list("level", flat=True))


def grants_on(model: type[models.Model], now=None) -> models.QuerySet:
    """The access grants in force on objects of ``model``."""
    return AccessGrant.objects.active(now).filter(content_type=ContentType.objects.get_for_model(model))


def readable(queryset: models.QuerySet, user, level: str = MASKED) -> models.QuerySet:
    """The rows of ``queryset`` that ``user`` may see and read at least at ``level``, in one query.

    The same answer as ``read_level`` for each row. The rows come from one ``pk IN (… UNION …)``
    of the ids each source gives (guardian permissions and grants in force, to the user and to
    their groups, and the readers the model's queryset implies): each part is a small indexed
    look-up, and the database fetches the few hundred rows by primary key, instead of testing a
    disjunction of subqueries against every row of a large table.
    """
    if level not in SATISFIES:
        raise ValueError(f"Unknown read level {level!r}.")
    visible = restrict(queryset, user, VIEW)
    if not is_signed_in(user) or user.is_superuser:
        return visible
    model = queryset.model
    codenames = [read_codenames(model)[name] for name in SATISFIES[level]]
    if any(user.has_perm(f"{model._meta.app_label}.{name}") for name in codenames):
        return visible
    return visible.filter(pk__in=readable_ids(queryset, user, level, codenames))


def readable_ids(queryset: models.QuerySet, user, level: str, codenames: list[str]) -> models.QuerySet:
    """One ``UNION`` of the ids ``user`` reads at ``level`` by each source (see ``readable``)."""
    model = queryset.model
    groups = user.groups.all()
    grants = grants_on(model).filter(level__in=SATISFIES[level]).order_by()
    parts = [
        granted_object_ids(get_user_obj_perms_model(model), model, codenames, user=user),
        granted_object_ids(get_group_obj_perms_model(model), model, codenames, group__in=groups),
        grants.filter(user=user).values("object_id"),
        grants.filter(group__in=groups).values("object_id"),
    ]
    implied = getattr(queryset, "implied_reader_ids", None)
    if implied is not None:
        parts += implied(user, level)
    first, *rest = (part.order_by() for part in parts)
    return first.union(*rest)


# --- Managing access ---------------------------------------------------------------------------
# Who may grant, revoke and decide requests for an object's data: admins, holders of the model-wide
# ``manage_access`` permission of the object's top parent (e.g. the product), or of that permission
# on the parent itself (an owner; a steward the owner trusts).
MANAGE_ACCESS = "manage_access"


def access_root(obj: models.Model) -> models.Model:
    """The object whose ``manage_access`` governs ``obj``: its top parent along ``access_parent``."""
    lookup = getattr(obj, "access_parent", None)
    if not lookup:
        return obj
    for name in lookup.split("__"):
        obj = getattr(obj, name)
    return access_root(obj)


def can_manage_access(user, obj: models.Model) -> bool:
    """May ``user`` grant and revoke reading ``obj`` and decide requests for it?"""
    if not is_signed_in(user):
        return False
    root = access_root(obj)
    if manages_all(user, type(root)):
        return True
    return MANAGE_ACCESS in ObjectPermissionChecker(user).get_perms(root)


def manages_all(user, model: type[models.Model]) -> bool:
    """Does ``user`` manage access to every object of ``model`` (a top-level model, e.g. products)?"""
    return is_signed_in(user) and (user.is_superuser or user.has_perm(f"{model._meta.app_label}.{MANAGE_ACCESS}"))


def managed_by(queryset: models.QuerySet, user) -> models.QuerySet:
    """The rows of ``queryset`` whose access ``user`` manages: top-level objects (e.g. products), or
    objects governed by a parent (e.g. outputs, through ``access_parent``)."""
    model = queryset.model
    if not is_signed_in(user):
        return queryset.none()
    parent = parent_model(model)
    if parent is not None:
        return queryset.filter(**{f"{model.access_parent}__in": managed_by(parent._default_manager.all(), user)})
    if manages_all(user, model):
        return queryset
    return queryset.filter(held_perm_q(user, model, MANAGE_ACCESS))


def access_managers(obj: models.Model) -> models.QuerySet:
    """The active users who hold ``manage_access`` on ``obj``'s top parent, themselves or through a group.

    Whom to tell about a new request: the owner and trusted stewards, not every admin of the hub.
    """
    root = access_root(obj)
    model = type(root)
    users = get_user_model().objects.filter(is_active=True)
    by_user = get_user_obj_perms_model(model).objects.filter(content_object=root, permission__codename=MANAGE_ACCESS)
    by_group = get_group_obj_perms_model(model).objects.filter(content_object=root, permission__codename=MANAGE_ACCESS)
    return users.filter(Q(pk__in=by_user.values("user")) | Q(groups__in=by_group.values("group"))).distinct()


class OutOfReach(Exception):
    """A write would leave its object outside the writer's reach; the transaction was rolled back."""

    def __init__(self, obj: models.Model) -> None:
        super().__init__(
            f"After this change you could no longer see this {obj._meta.verbose_name}, so nothing was saved."
        )
        self.obj = obj


def save_within_reach(user, save):
    """Run ``save()`` in a transaction; if the user could no longer see what it saved, roll back and raise OutOfReach.

    After NetBox's ObjectEditView: a write may not move an object out of its writer's reach.
    """
    with transaction.atomic():
        obj = save()
        if not can(user, VIEW, obj):
            raise OutOfReach(obj)
    return obj


class RestrictedQuerySet(models.QuerySet):
    """A queryset that can restrict itself to what a user may do: ``Model.objects.restrict(user, "view")``."""

    def restrict(self, user, action: str = VIEW) -> models.QuerySet:
        return restrict(self, user, action)
