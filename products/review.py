"""Change review: on a published product with ``review_changes``, a steward's edit waits for the owner.

The steward's save runs as usual inside a transaction; the resulting spec document is captured
and the transaction rolled back, and a ``ChangeRequest`` keeps that proposed document. The
owner (or an admin) sees its diff, its breaking changes and the downstream products it
touches, then approves — the document is applied atomically through the spec importer and
recorded as a version — or rejects with a comment. Either way the author gets an email.
Owners and admins always edit directly: nobody reviews their own change.
"""

from __future__ import annotations

import contextvars
import logging
import smtplib
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from access import policy

from . import lineage, semver, versions
from .choices import Status
from .history import ChangeRequest, ChangeStatus, VersionSource
from .models import DataProduct, Output

logger = logging.getLogger(__name__)

STALE_MESSAGE = "The spec changed since this request was made; ask its author for a new one."


class Captured(Exception):
    """Raised inside the capture transaction to roll the steward's save back."""


def is_owner_or_admin(user, product: DataProduct) -> bool:
    # Deleting is the owner's and admins' right: the same action decides who reviews.
    return policy.can(user, policy.DELETE, product)


def must_review(product: DataProduct, user) -> bool:
    """Whether ``user``'s edit to ``product`` becomes a change request instead of applying."""
    return product.review_changes and product.status == Status.PUBLISHED and not is_owner_or_admin(user, product)


def base_of(product: DataProduct) -> tuple:
    """The latest version (recording one first if the product has none) and the current spec document."""
    base = versions.ensure_baseline(product, "Version before the first change request")
    return base, versions.snapshot_of(product)


def capture(product: DataProduct, save: Callable[[], object]) -> dict:
    """The spec document ``save()`` would leave, with nothing written; the semver rule applies as to any save."""
    proposed = None
    try:
        with transaction.atomic():
            save()
            proposed = versions.snapshot_of(product)
            raise Captured
    except Captured:
        pass
    return proposed


def propose(product: DataProduct, user, save: Callable[[], object], message: str = "") -> ChangeRequest:
    """Run the steward's ``save`` only to see its result, and store that as an open change request."""
    base, current = base_of(product)
    proposed = capture(product, save)
    semver.check(current, proposed)  # refused now, not after the owner's review
    if proposed == current:
        raise ValidationError("This change does not change the spec.")
    change = ChangeRequest.objects.create(
        product=product,
        author=user,
        message=(message or "Proposed change")[:500],
        base_version=base,
        base_snapshot=current,
        proposed=proposed,
    )
    notify(change, "submitted", [product.owner])
    return change


def propose_document(product: DataProduct, user, document, message: str = "") -> ChangeRequest:
    """A change request from a whole spec document (the API): the importer's dry run decides what it would do."""
    from .specs.importer import import_documents

    with review_bypassed():
        return propose(product, user, lambda: import_documents([document], user=user), message)


# --- Deciding --------------------------------------------------------------------------------


def may_decide(user, change: ChangeRequest) -> bool:
    return is_owner_or_admin(user, change.product) and change.author_id != getattr(user, "pk", None)


def require_decider(user, change: ChangeRequest) -> None:
    if not may_decide(user, change):
        raise PermissionDenied("Only the product's owner or an admin decides a change request, never its author.")
    if change.status != ChangeStatus.OPEN:
        raise ValidationError({"status": f"This change request is already {change.get_status_display().lower()}."})


def approve(change: ChangeRequest, user, comment: str = "") -> None:
    """Apply the proposed document atomically (as a version from review) and tell the author."""
    from .specs.importer import import_documents
    from .specs.loader import load

    require_decider(user, change)
    product = change.product
    if versions.snapshot_of(product) != change.base_snapshot:
        raise ValidationError({"base_version": STALE_MESSAGE})
    documents = load(dump_snapshot(change.proposed), f"change request {change.pk}")
    message = f"Approved change request #{change.pk}: {change.message}"[:500]
    author = change.author or user
    with transaction.atomic():
        with review_bypassed(), versions.changing(VersionSource.REVIEW, message, author):
            import_documents(documents, user=user)
        decide(change, user, ChangeStatus.APPROVED, comment)


def reject(change: ChangeRequest, user, comment: str) -> None:
    require_decider(user, change)
    if not (comment or "").strip():
        raise ValidationError({"comment": "Say why the change is rejected: the author reads it."})
    with transaction.atomic():
        decide(change, user, ChangeStatus.REJECTED, comment)


def decide(change: ChangeRequest, user, status: str, comment: str) -> None:
    change.status, change.decided_by, change.decided_at = status, user, timezone.now()
    change.comment = (comment or "").strip()
    change.save(update_fields=["status", "decided_by", "decided_at", "comment"])
    if change.author is not None:
        notify(change, status, [change.author])


def dump_snapshot(snapshot: dict) -> str:
    from .specs.document import dump

    return dump(snapshot)


# --- Review is not bypassed by other paths ---------------------------------------------------

_bypass = contextvars.ContextVar("review_bypassed", default=False)


class review_bypassed:  # noqa: N801 - used as a context manager
    """Inside, the importer applies a document without asking for review (approval, capture)."""

    def __enter__(self):
        self.token = _bypass.set(True)

    def __exit__(self, *exc):
        _bypass.reset(self.token)


def import_refusal(product: DataProduct | None, user) -> str:
    """Why an import of ``product`` by ``user`` must go through review instead, or ''."""
    if product is None or _bypass.get() or not must_review(product, user):
        return ""
    return (
        f"changes to {product.slug} go through review: submit the document as a change request "
        f"(POST /api/v1/products/{product.slug}/changes/)"
    )


# --- What the reviewer sees ------------------------------------------------------------------


@dataclass
class Review:
    change: ChangeRequest
    current: dict
    diff: list
    yaml_diff: str
    breaking: list[str]
    impact: list
    stale: bool


def review_of(change: ChangeRequest, user) -> Review:
    current = versions.snapshot_of(change.product)
    touched = touched_outputs(change.base_snapshot, change.proposed)
    outputs = Output.objects.filter(product=change.product, name__in=touched).select_related("product")
    impacts = [item for item in lineage.impact(list(outputs), user, outputs).values() if item.readers or item.hidden]
    return Review(
        change=change,
        current=current,
        diff=versions.diff_lines(change.base_snapshot, change.proposed),
        yaml_diff=versions.yaml_diff(change.base_snapshot, change.proposed, "current", "proposed"),
        breaking=semver.breaking_changes(change.base_snapshot, change.proposed),
        impact=impacts,
        stale=change.status == ChangeStatus.OPEN and current != change.base_snapshot,
    )


def touched_outputs(old: dict, new: dict) -> list[str]:
    """Names of the outputs the change alters or removes (their readers are the impact)."""
    before, after = semver.outputs_of(old), semver.outputs_of(new)
    return sorted(name for name, item in before.items() if after.get(name) != item)


# --- Emails ----------------------------------------------------------------------------------


def notify(change: ChangeRequest, event: str, people: list) -> None:
    addresses = [person.email for person in people if person is not None and person.email and person.is_active]
    if not addresses:
        return
    context = {"change": change, "product": change.product, "event": event}
    subject = render_to_string("products/email/review_subject.txt", context).strip()
    body = render_to_string("products/email/review_body.txt", context)
    transaction.on_commit(lambda: send(subject, body, addresses, change))


def send(subject: str, body: str, addresses: list[str], change: ChangeRequest) -> None:
    try:
        send_mail(subject, body, None, addresses)
    except (smtplib.SMTPException, OSError):
        logger.exception("Could not send the email about change request %s", change.pk)
