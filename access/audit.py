"""Writing the audit log: one ``record`` for every caller, and the receivers that call it.

The request being served (its id, user and address) is kept in a context variable by
``RequestContextMiddleware``, so a signal receiver deep in a save knows who asked.
Never put a secret in ``details``: connection URLs, passwords and tokens stay out.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from dataclasses import dataclass

from django.apps import apps
from django.contrib.auth.signals import user_login_failed
from django.db import models
from django.db.models.signals import post_delete, post_save

from .models import AuditAction, AuditEvent

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# The spec's models besides the product's own parts (``access_parent`` leads to the product).
EXTRA_SPEC_MODELS = ("quality.Check", "quality.Webhook")


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    request: object = None  # read for its user at record time: DRF authenticates after the middleware
    ip_address: str | None = None


NO_REQUEST = RequestContext()  # a worker, a command, a test: no request being served
current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar("audit_request", default=None)


def request_context() -> RequestContext:
    return current.get() or NO_REQUEST


def request_id_for(request) -> str:
    """The client's X-Request-ID when it is a plain token (so logs join up), else a new one."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if VALID_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


class RequestContextMiddleware:
    """Gives every request an id (echoed in the X-Request-ID response header) and keeps it for the audit log."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request_id_for(request)
        token = current.set(RequestContext(request.request_id, request, request.META.get("REMOTE_ADDR") or None))
        try:
            response = self.get_response(request)
        finally:
            current.reset(token)
        response[REQUEST_ID_HEADER] = request.request_id
        return response


def acting_user(explicit=None):
    if explicit is not None:
        return explicit
    user = getattr(request_context().request, "user", None)
    if user is None:
        return None
    return user if getattr(user, "is_authenticated", False) else None


def product_of(obj) -> object | None:
    """The product an object belongs to, following ``access_parent`` (a product is its own)."""
    if obj is None:
        return None
    if obj._meta.label == "products.DataProduct":
        return obj
    lookup = getattr(type(obj), "access_parent", None)
    for name in (lookup or "").split("__") if lookup else []:
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return obj if lookup else None


def record(action: str, *, actor=None, obj=None, product=None, details: dict | None = None, actor_name: str = ""):
    """Append one event; the actor defaults to the signed-in user of the request being served."""
    context = request_context()
    user = acting_user(actor)
    product = product or product_of(obj)
    return AuditEvent.objects.create(
        action=action,
        actor_id=user.pk if user is not None else None,
        actor_name=(user.get_username() if user is not None else actor_name)[:150],
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=str(obj)[:300] if obj is not None else "",
        product_slug=getattr(product, "slug", "") or "",
        details=details or {},
        request_id=context.request_id,
        ip_address=context.ip_address,
    )


def record_created(objs: list[models.Model], *, actor=None) -> None:
    """One ``spec_created`` event per product for parts written together with ``bulk_create`` (which
    sends no ``post_save``): a spec import creating a thousand products' parts writes a thousand
    events, not one per part. Its details name every part by kind: ``{"products.goal": ["Grow revenue"]}``.
    """
    context = request_context()
    user = acting_user(actor)
    by_product: dict = {}
    for obj in objs:
        product = product_of(obj)
        parts = by_product.setdefault(product.pk, (product, {}))[1]
        parts.setdefault(obj._meta.label_lower, []).append(str(obj)[:200])
    events = [
        AuditEvent(
            action=AuditAction.SPEC_CREATED,
            actor_id=user.pk if user is not None else None,
            actor_name=(user.get_username() if user is not None else "")[:150],
            object_type=product._meta.label_lower,
            object_id=str(product.pk),
            object_repr=f"{sum(map(len, parts.values()))} new parts of {product}"[:300],
            product_slug=product.slug,
            details={"parts": parts},
            request_id=context.request_id,
            ip_address=context.ip_address,
        )
        for product, parts in by_product.values()
    ]
    AuditEvent.objects.bulk_create(events)


# --- Receivers -------------------------------------------------------------------------------


def on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    # Only the name tried: the credentials dict also holds the password.
    username = str(credentials.get("username", ""))[:150]
    record(AuditAction.SIGN_IN_FAILED, actor_name=username, details={"username": username})


def on_connection_saved(sender, instance, created, raw=False, **kwargs) -> None:
    if raw:
        return
    action = AuditAction.CONNECTION_CREATED if created else AuditAction.CONNECTION_CHANGED
    # The redacted URL only: the real one, with its password, never leaves the encrypted field.
    record(action, obj=instance, details={"kind": instance.kind, "url": instance.display_url})


def on_connection_deleted(sender, instance, **kwargs) -> None:
    record(AuditAction.CONNECTION_DELETED, obj=instance, details={"url": instance.display_url})


def on_spec_saved(sender, instance, created, raw=False, **kwargs) -> None:
    if raw:
        return
    record(AuditAction.SPEC_CREATED if created else AuditAction.SPEC_CHANGED, obj=instance)


def on_spec_deleted(sender, instance, **kwargs) -> None:
    record(AuditAction.SPEC_DELETED, obj=instance, product=safe_product_of(instance))


def safe_product_of(instance):
    """The product, unless it is being deleted with the part (cascade): then nothing to name."""
    try:
        return product_of(instance)
    except models.ObjectDoesNotExist:
        return None


def spec_models() -> list[type[models.Model]]:
    products = apps.get_app_config("products").get_models()
    parts = [m for m in products if m._meta.label == "products.DataProduct" or getattr(m, "access_parent", None)]
    extra = [apps.get_model(label) for label in EXTRA_SPEC_MODELS if apps.is_installed(label.split(".")[0])]
    return parts + extra


def connect() -> None:
    user_login_failed.connect(on_login_failed, dispatch_uid="access.audit.login_failed")
    connection = apps.get_model("products", "Connection")
    post_save.connect(on_connection_saved, sender=connection, dispatch_uid="access.audit.connection_saved")
    post_delete.connect(on_connection_deleted, sender=connection, dispatch_uid="access.audit.connection_deleted")
    for model in spec_models():
        post_save.connect(on_spec_saved, sender=model, dispatch_uid=f"access.audit.saved.{model._meta.label}")
        post_delete.connect(on_spec_deleted, sender=model, dispatch_uid=f"access.audit.deleted.{model._meta.label}")
