"""The model whose rows are requested and granted: named here and nowhere else in ``access``.

``access`` is generic over objects and never imports ``products`` (the dependencies point one
way); the API and pages that take an output's id resolve the model through this function.
"""

from __future__ import annotations

from django.apps import apps
from django.db import models


def readable_model() -> type[models.Model]:
    """The model of objects whose data is read, requested and granted: a product's output."""
    return apps.get_model("products", "Output")


# What the pages need of the object that governs access (a product), named here too.


def root_model() -> type[models.Model]:
    """The model whose objects govern access to the readable ones: the product."""
    from . import policy

    return policy.parent_model(readable_model())


def may_delegate(user, root: models.Model) -> bool:
    """May ``user`` let others manage access to ``root``? Its owner and admins."""
    return user.is_superuser or getattr(root, "owner_id", None) == user.pk


def delegates(root: models.Model) -> list:
    """The people to whom ``root``'s owner may delegate managing access: its stewards."""
    return list(root.stewards.all())


def with_objects(queryset: models.QuerySet) -> models.QuerySet:
    """Requests or grants with their output and its product, in one query per kind, not one per row."""
    from django.contrib.contenttypes.prefetch import GenericPrefetch

    outputs = readable_model()._default_manager.select_related("product")
    return queryset.prefetch_related(GenericPrefetch("content_object", [outputs]))
