"""A product's lifecycle: draft → published → deprecated → retired, and who may move it along.

Every status change goes through :func:`change_status` — the lifecycle page, the API, and the
product's own form and serializer — so no path skips the rules:

* draft → published → deprecated → retired; deprecated → published undoes a deprecation;
* retired is final, for everyone; admins may make any other move (e.g. back to draft);
* deprecating needs a sunset date (today or later) and may name a replacement product;
* whoever may change the product may move it, except that only its owner or an admin retires it.

Deprecating or retiring a product emails the owners of the products that read its outputs, once
per owner, after the transaction commits (:func:`notify_downstream`, which a breaking change uses too).
"""

from __future__ import annotations

import datetime
import logging
import smtplib
from collections import defaultdict
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from access import audit, policy
from access.models import AuditAction
from utilities.people import email_addresses

from . import semver
from .choices import Status
from .models import DataProduct, ProductInput

logger = logging.getLogger(__name__)

# The moves anyone who may change the product may make; admins may make any move but out of retired.
TRANSITIONS = {
    Status.DRAFT: {Status.PUBLISHED},
    Status.PUBLISHED: {Status.DEPRECATED},
    Status.DEPRECATED: {Status.RETIRED, Status.PUBLISHED, Status.DEPRECATED},  # deprecated again: a new date
    Status.RETIRED: set(),
}
NOTIFY_ON = {Status.DEPRECATED, Status.RETIRED}


def is_admin(user) -> bool:
    return policy.has_model_perm(user, DataProduct, policy.CHANGE)


def may_retire(user, product: DataProduct) -> bool:
    """The owner or an admin: the same people who may delete the product or hand it over."""
    return policy.can(user, policy.DELETE, product)


def allowed_statuses(product: DataProduct, user) -> list[str]:
    """The statuses ``user`` may move ``product`` to, in lifecycle order (for forms)."""
    if product.status == Status.RETIRED or not policy.can(user, policy.CHANGE, product):
        return []
    targets = set(Status.values) if is_admin(user) else set(TRANSITIONS[Status(product.status)])
    if product.status != Status.DEPRECATED:
        targets.discard(product.status)
    if not may_retire(user, product):
        targets.discard(Status.RETIRED)
    return [status for status in Status.values if status in targets]


def check_transition(product: DataProduct, status: str, by) -> None:
    """Raise PermissionDenied if ``by`` may not move the product at all, ValidationError naming ``status`` if
    this move is not allowed."""
    if not policy.can(by, policy.CHANGE, product):
        raise PermissionDenied("You may not change this product.")
    if status not in Status.values:
        raise ValidationError({"status": f"“{status}” is not a status; use one of {', '.join(Status.values)}."})
    if product.status == Status.RETIRED:
        raise ValidationError({"status": "A retired product stays retired."})
    if status == Status.RETIRED and not may_retire(by, product):
        raise PermissionDenied("Only the product's owner or an admin may retire it.")
    if status == product.status and status != Status.DEPRECATED:
        raise ValidationError({"status": f"The product is already {product.get_status_display().lower()}."})
    if status not in TRANSITIONS[Status(product.status)] and not is_admin(by):
        raise ValidationError({"status": f"A {product.status} product cannot become {status}; {moves(product)}."})


def moves(product: DataProduct) -> str:
    targets = [status for status in Status.values if status in TRANSITIONS[Status(product.status)]]
    targets = [status for status in targets if status != product.status]
    return f"it may become {' or '.join(targets)}" if targets else "it cannot change"


def check_deprecation(product: DataProduct, by, sunset_date, replaced_by) -> None:
    errors = {}
    if sunset_date is None:
        errors["sunset_date"] = "Deprecating needs a sunset date: the day the product will be retired."
    elif not isinstance(sunset_date, datetime.date) or sunset_date < timezone.localdate():
        errors["sunset_date"] = "The sunset date must be today or later."
    if replaced_by is not None:
        problem = replacement_problem(product, by, replaced_by)
        if problem:
            errors["replaced_by"] = problem
    if errors:
        raise ValidationError(errors)


def replacement_problem(product: DataProduct, by, replaced_by: DataProduct) -> str:
    if not policy.can(by, policy.VIEW, replaced_by):
        return "No such product."  # one the user may not see is as good as absent
    if replaced_by.pk == product.pk:
        return "A product cannot replace itself."
    if replaced_by.status == Status.RETIRED:
        return f"{replaced_by.name} is retired; name a product consumers can move to."
    return ""


def change_status(
    product: DataProduct,
    status: str,
    *,
    by,
    sunset_date: datetime.date | None = None,
    replaced_by: DataProduct | None = None,
    note: str = "",
) -> DataProduct:
    """Move ``product`` to ``status``, audited; deprecating or retiring tells the downstream owners.

    Raises PermissionDenied (the user may not) or ValidationError naming the field at fault; nothing
    is saved then.
    """
    check_transition(product, status, by)
    if status == Status.DEPRECATED:
        check_deprecation(product, by, sunset_date, replaced_by)
    previous = product.status
    with transaction.atomic():
        apply(product, status, sunset_date, replaced_by)
        audit.record(
            AuditAction.LIFECYCLE_CHANGED,
            actor=by,
            obj=product,
            product=product,
            details=event_details(product, previous, note),
        )
        if status in NOTIFY_ON:
            subject, body = lifecycle_message(product)
            notify_downstream(product, subject, body)
    return product


def apply(product: DataProduct, status: str, sunset_date, replaced_by) -> None:
    product.status = status
    if status == Status.DEPRECATED:
        product.sunset_date, product.replaced_by = sunset_date, replaced_by
    elif status == Status.RETIRED:
        # Retired today, unless the sunset date already passed; the successor stays named.
        today = timezone.localdate()
        if product.sunset_date is None or product.sunset_date > today:
            product.sunset_date = today
    else:  # published again (an undone deprecation) or, by an admin, a draft: no sunset any more
        product.sunset_date, product.replaced_by = None, None
    product.save(update_fields=["status", "sunset_date", "replaced_by", "updated"])


def event_details(product: DataProduct, previous: str, note: str) -> dict:
    return {
        "from": previous,
        "to": product.status,
        "sunset_date": product.sunset_date.isoformat() if product.sunset_date else None,
        "replaced_by": product.replaced_by.slug if product.replaced_by_id else None,
        "note": note,
    }


def lifecycle_message(product: DataProduct) -> tuple[str, str]:
    context = {"product": product, "page_url": absolute(product.get_absolute_url())}
    if product.replaced_by_id:
        context["replacement_url"] = absolute(product.replaced_by.get_absolute_url())
    subject = " ".join(render_to_string("products/lifecycle_email_subject.txt", context).split())
    return subject, render_to_string("products/lifecycle_email.txt", context)


def absolute(path: str) -> str:
    return settings.LODESTAR_BASE_URL.rstrip("/") + path


# --- Telling the owners of downstream products ----------------------------------------------------


def downstream_by_owner(product: DataProduct) -> dict:
    """owner → {their product reading ours → [its inputs from ours]}; retired readers left out."""
    inputs = (
        ProductInput.objects.filter(source_output__product=product)
        .exclude(product__status=Status.RETIRED)
        .select_related("product__owner", "source_output")
        .order_by("product__name", "source_output__name")
    )
    owners: dict = defaultdict(lambda: defaultdict(list))
    for item in inputs:
        owners[item.product.owner][item.product].append(item)
    return owners


def affected_list(products: dict) -> str:
    lines = []
    for reader, inputs in products.items():
        outputs = ", ".join(item.source_output.name for item in inputs)
        lines.append(f"- {reader.name} ({absolute(reader.get_absolute_url())}) reads {outputs}")
    return "\n".join(lines)


def notify_downstream(product: DataProduct, subject: str, body: str | Callable[[dict], str]) -> list[str]:
    """Email ``subject`` and ``body`` to the owner of every product reading ``product``'s outputs.

    One email per owner, however many of their products are affected; each lists theirs. ``body`` may be
    a function of the owner's {their product → [its inputs from ours]} giving that owner's text, or ''
    to leave them out. Sent after the transaction commits (nothing is sent for a change that is rolled
    back); a mail server that refuses is logged, not raised. Returns the addresses it will write to.
    """
    owners = downstream_by_owner(product)
    messages = []
    for owner, products in owners.items():
        if not owner.email or not owner.is_active:
            continue
        own_body = body(products) if callable(body) else body
        if not own_body:
            continue
        text = f"{own_body.rstrip()}\n\nYour products that read {product.name}:\n{affected_list(products)}\n"
        messages.append((owner.email, text))
    transaction.on_commit(lambda: send_each(subject, messages, product))
    return [address for address, _ in messages]


def send_each(subject: str, messages: list[tuple[str, str]], product: DataProduct) -> None:
    for address, text in messages:
        try:
            send_mail(subject, text, None, [address])
        except (smtplib.SMTPException, OSError):
            logger.exception("Could not tell %s about a change to product %s", address, product.slug)


def notify_breaking(version) -> list[str]:
    """Tell the downstream owners what a breaking version (``ProductVersion.breaking``) breaks for them.

    Each owner hears only of the changes to what their products read (the outputs, and the columns an input
    lists), and nothing if there are none.
    """
    product = version.product
    subject = f"Breaking change: {product.name} {version.version}"
    context = {
        "product": product,
        "version": version,
        "page_url": absolute(product.get_absolute_url()),
        "history_url": absolute(version.get_absolute_url()),
    }

    def body(readers: dict) -> str:
        read: dict = {}  # output → the columns the owner's inputs list (none: all)
        for inputs in readers.values():
            for item in inputs:
                semver.merge_reads(read, item.source_output.name, item.columns)
        changes = semver.changes_to(version.breaking, read)
        return render_to_string("products/breaking_email.txt", context | {"changes": changes}) if changes else ""

    return notify_downstream(product, subject, body)


# --- A KPI deprecated ------------------------------------------------------------------------------


def kpi_consumers(kpi) -> list[str]:
    """Who relies on a KPI: members of the product's consumer teams and owners of products reading its output."""
    people = list(get_user_model().objects.filter(teams__consumed_products=kpi.product, is_active=True).distinct())
    if kpi.output_id:
        readers = ProductInput.objects.filter(source_output=kpi.output).exclude(product__status=Status.RETIRED)
        people += [item.product.owner for item in readers.select_related("product__owner")]
    return sorted(email_addresses(people), key=str.lower)


def notify_kpi_deprecated(kpi) -> list[str]:
    """Tell the KPI's consumers, after the commit, that it is deprecated and leaves the dashboards."""
    product = kpi.product
    subject = f"KPI deprecated: {kpi.name} ({product.name})"
    owner = kpi.owner or product.owner
    text = (
        f"The KPI {kpi.name} of {product.name} is deprecated. It is no longer computed and no longer shown on "
        f"the product's dashboards; its history stays on its page.\n\n"
        f"Product: {absolute(product.get_absolute_url())}\n"
        f"Ask {owner.get_full_name() or owner.get_username()} ({owner.email or 'no email'}) which KPI to follow "
        f"instead.\n"
    )
    addresses = kpi_consumers(kpi)
    messages = [(address, text) for address in addresses]
    transaction.on_commit(lambda: send_each(subject, messages, product))
    return addresses
