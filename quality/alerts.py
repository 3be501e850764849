"""Alerts: one ``Notification`` per recipient, delivered by a Celery task after the caller commits.

``notify`` is called inside the transaction that changed a state (an incident opened or resolved,
an SLO changing state): it writes the delivery records there and queues their delivery
``on_commit``, so a rolled-back change alerts no one. Recipients are the product's owner and
stewards (active users with an email address, one email per address) and its enabled webhooks.

Delivery is at least once: a worker claims an attempt with a conditional update, so two workers
never send the same attempt, but a worker lost mid-send leaves the attempt to be made again.
Receivers deduplicate on ``X-Lodestar-Delivery``.
"""

from __future__ import annotations

import http.client
import json
import logging
import secrets
import smtplib
import time
from datetime import timedelta
from functools import partial

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from utilities.people import email_addresses

from . import webhooks
from .choices import Channel, DeliveryStatus
from .models import Incident, Notification, Webhook
from .tasks import publish

logger = logging.getLogger(__name__)

QUEUE = "celery"  # not "checks": an alert should not wait behind long check runs
MAX_RETRIES = 5
BACKOFF_SECONDS = 30  # 30 s, 1, 2, 4, 8 min
BACKOFF_MAX_SECONDS = 600
ERROR_LENGTH = 500
# A pending notification never attempted this long after it was written lost its message (the broker
# was down when it was queued): ``requeue_pending`` queues it again.
REQUEUE_AFTER = timedelta(minutes=5)
ATTEMPT_TIME_LIMIT_SECONDS = 150  # deliver_notification's hard time limit
RETRY_LOST_AFTER = timedelta(seconds=BACKOFF_MAX_SECONDS + ATTEMPT_TIME_LIMIT_SECONDS) + REQUEUE_AFTER


def absolute_url(path: str) -> str:
    return settings.LODESTAR_BASE_URL.rstrip("/") + path


def create_webhook(product, url: str, enabled: bool = True) -> tuple[Webhook, str]:
    """A validated webhook with a fresh secret. The secret is returned once and stored encrypted only."""
    secret = secrets.token_urlsafe(32)
    webhook = Webhook(product=product, url=url, enabled=enabled)
    webhook.set_secret(secret)
    webhook.full_clean()
    webhook.save()
    return webhook, secret


# --- Recipients and the document ----------------------------------------------------------


def email_recipients(product) -> list[str]:
    """The owner's and stewards' addresses: active users with an address, each address once."""
    return email_addresses([product.owner, *product.stewards.order_by("pk")])


def incident_summary(incident: Incident) -> dict:
    subject = incident.subject
    return {
        "id": incident.pk,
        "title": incident.title,
        "status": incident.status,
        "subject": {"type": subject_type(incident), "name": getattr(subject, "name", "")},
        "opened_at": incident.opened_at,
        "resolved_at": incident.resolved_at,
        "occurrences": incident.occurrences,
        "url": absolute_url(incident.get_absolute_url()),
    }


def subject_type(incident: Incident) -> str:
    if incident.quality_check_id:
        return "check"
    return "kpi" if incident.kpi_id else "slo"


def document(product, event: str, subject: str, body: str, data: dict, incident: Incident | None) -> dict:
    """What every channel sends: the webhook's JSON body, and the email's text and links."""
    content = {
        "event": event,
        "subject": subject,
        "text": body,
        "product": {"slug": product.slug, "name": product.name, "url": absolute_url(product.get_absolute_url())},
        "incident": incident_summary(incident) if incident is not None else None,
        "data": data,
        "sent_at": None,  # set at each delivery
    }
    # Dates and decimals become strings now, so the stored payload is exactly what is sent.
    return json.loads(json.dumps(content, cls=DjangoJSONEncoder))


# --- Notify --------------------------------------------------------------------------------


def notify(product, event: str, subject: str, body: str, payload: dict, incident=None) -> list[Notification]:
    """Record one notification per recipient and queue their delivery once the caller commits."""
    content = document(product, event, subject, body, payload, incident)
    common = {"product": product, "incident": incident, "event": event, "subject": subject[:300], "payload": content}
    notifications = [
        Notification(channel=Channel.EMAIL, recipient=address, **common) for address in email_recipients(product)
    ]
    notifications += [
        Notification(channel=Channel.WEBHOOK, recipient=webhook.url, webhook=webhook, **common)
        for webhook in product.webhooks.filter(enabled=True)
    ]
    for notification in notifications:
        notification.save()
        # A broker that is down must not fail the caller's request after its commit: ``enqueue``
        # logs it and the notification stays pending for ``requeue_pending`` (robust: nor may a bug).
        transaction.on_commit(partial(enqueue, notification.pk), robust=True)
    return notifications


def enqueue(notification_id: int) -> bool:
    """Send the delivery task now, with a bounded retry; False (logged) when the broker is unreachable."""
    return publish(deliver_notification, f"notification {notification_id}", args=(notification_id,), queue=QUEUE)


def requeue_pending(older_than: timedelta = REQUEUE_AFTER) -> int:
    """Queue again pending notifications whose message was lost: never attempted and written before
    ``older_than`` ago, or attempted and left waiting for a retry far longer than any backoff.

    Their message was lost, or never sent because the broker was down. No row is changed; a
    notification queued twice is still attempted once per claim (``claim``). Called by the sweeper,
    ``quality.tasks.requeue_stale_runs``; the count queued, stopping at the first the broker refuses.
    """
    now = timezone.now()
    never_attempted = Q(attempts=0, created__lt=now - older_than)
    # A retry is due within the longest backoff plus one attempt's time limit; later, its message was lost.
    retry_lost = Q(attempts__gt=0, last_attempt_at__lt=now - RETRY_LOST_AFTER)
    ids = Notification.objects.filter(never_attempted | retry_lost, status=DeliveryStatus.PENDING).order_by("pk")
    queued = 0
    for notification_id in ids.values_list("pk", flat=True):
        if not enqueue(notification_id):
            break
        queued += 1
    if queued:
        logger.warning("Queued %d notifications again that were never attempted.", queued)
    return queued


# --- Channels ------------------------------------------------------------------------------


class DeliveryError(Exception):
    """A delivery that did not succeed; ``retry`` says whether a later attempt may."""

    def __init__(self, message: str, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


class Transport:
    """Sends one notification with its document; returns when sent, raises ``DeliveryError`` otherwise."""

    def send(self, notification: Notification, content: dict) -> None:
        raise NotImplementedError


class EmailTransport(Transport):
    def send(self, notification: Notification, content: dict) -> None:
        links = [f"Product: {content['product']['url']}"]
        if content["incident"] and content["incident"]["url"]:
            links.append(f"Incident: {content['incident']['url']}")
        message = "\n".join([content["text"], "", *links])
        try:
            send_mail(notification.subject, message, None, [notification.recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"The mail server refused the recipient: {exc}", retry=False) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"Cannot send the email: {describe(exc)}", retry=True) from exc


class WebhookTransport(Transport):
    def send(self, notification: Notification, content: dict) -> None:
        webhook = notification.webhook
        if webhook is None or not webhook.enabled:
            raise DeliveryError("The webhook was deleted or disabled.", retry=False)
        try:
            target = webhooks.check(notification.recipient)  # again: DNS may answer differently now
        except webhooks.UnsafeURL as exc:
            raise DeliveryError(f"Refused: {exc}", retry=False) from exc
        except OSError as exc:
            raise DeliveryError(f"Cannot resolve the webhook's host: {describe(exc)}", retry=True) from exc
        try:
            secret = webhook.secret
        except ValueError as exc:
            raise DeliveryError(str(exc), retry=False) from exc
        body = json.dumps(content, separators=(",", ":")).encode()
        reply = self.post(target, body, signed_headers(notification, secret, body))
        check_reply(reply)

    def post(self, target: webhooks.Target, body: bytes, headers: dict[str, str]) -> webhooks.Reply:
        timeout = float(settings.LODESTAR_WEBHOOK_TIMEOUT_SECONDS)
        try:
            return webhooks.post(target, body, headers, timeout)
        except (OSError, http.client.HTTPException, SoftTimeLimitExceeded) as exc:
            raise DeliveryError(f"Cannot reach the webhook: {describe(exc)}", retry=True) from exc


def signed_headers(notification: Notification, secret: str, body: bytes) -> dict[str, str]:
    timestamp = str(int(time.time()))
    return {
        "Content-Type": "application/json",
        "X-Lodestar-Event": notification.event,
        "X-Lodestar-Delivery": str(notification.pk),
        "X-Lodestar-Timestamp": timestamp,
        "X-Lodestar-Signature": webhooks.sign(secret, timestamp, body),
    }


def check_reply(reply: webhooks.Reply) -> None:
    """2xx is delivered; 5xx may be retried; 3xx (never followed) and 4xx are failures."""
    if 200 <= reply.status < 300:
        return
    if 300 <= reply.status < 400:
        where = f" to {reply.location}" if reply.location else ""
        raise DeliveryError(f"HTTP {reply.status}: the redirect{where} was not followed.", retry=False)
    detail = f": {reply.text.strip()[:200]}" if reply.text.strip() else ""
    raise DeliveryError(f"HTTP {reply.status} {reply.reason}{detail}", retry=reply.status >= 500)


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


TRANSPORTS: dict[str, type[Transport]] = {Channel.EMAIL: EmailTransport, Channel.WEBHOOK: WebhookTransport}


# --- Delivery ------------------------------------------------------------------------------


def claim(notification_id: int) -> Notification | None:
    """The pending notification with this attempt taken, or None when sent, failed, gone or taken by another worker."""
    notification = Notification.objects.select_related("webhook").filter(pk=notification_id).first()
    if notification is None or notification.status != DeliveryStatus.PENDING:
        return None
    taken = Notification.objects.filter(
        pk=notification_id, status=DeliveryStatus.PENDING, attempts=notification.attempts
    ).update(attempts=F("attempts") + 1, last_attempt_at=timezone.now())
    if taken != 1:
        return None
    notification.attempts += 1
    return notification


def record(notification: Notification, status: str, error: str = "") -> None:
    notification.status = status
    notification.last_error = error[:ERROR_LENGTH]
    fields = ["status", "last_error"]
    if status == DeliveryStatus.SENT:
        notification.sent_at = timezone.now()
        fields.append("sent_at")
    notification.save(update_fields=fields)


def deliver(notification: Notification) -> None:
    """One attempt: sent, or ``DeliveryError``."""
    content = {**notification.payload, "sent_at": timezone.now().isoformat()}
    TRANSPORTS[notification.channel]().send(notification, content)


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_RETRIES,
    # Connect, send and read may each take the webhook timeout; the limits bound the whole attempt.
    soft_time_limit=ATTEMPT_TIME_LIMIT_SECONDS - 30,
    time_limit=ATTEMPT_TIME_LIMIT_SECONDS,
)
def deliver_notification(self, notification_id: int) -> str:
    """Deliver one notification; connection errors and 5xx are retried with backoff, the rest fail at once."""
    notification = claim(notification_id)
    if notification is None:
        return "skipped"
    try:
        deliver(notification)
    except DeliveryError as exc:
        # The attempts on the row, not this message's retries, decide: a message the sweeper sends
        # again (its retry was lost) continues the count instead of starting a new one.
        if exc.retry and not self.request.called_directly and notification.attempts <= MAX_RETRIES:
            record(notification, DeliveryStatus.PENDING, str(exc))
            logger.warning("Notification %s, attempt %d: %s", notification.pk, notification.attempts, exc)
            countdown = min(BACKOFF_SECONDS * 2 ** (notification.attempts - 1), BACKOFF_MAX_SECONDS)
            raise self.retry(countdown=countdown) from exc
        record(notification, DeliveryStatus.FAILED, str(exc))
        logger.warning("Notification %s failed: %s", notification.pk, exc)
        return DeliveryStatus.FAILED
    record(notification, DeliveryStatus.SENT)
    return DeliveryStatus.SENT


def redeliver(notifications) -> int:
    """Queue failed or stuck notifications again (admin action); the count queued."""
    ids = list(notifications.exclude(status=DeliveryStatus.SENT).values_list("pk", flat=True))
    Notification.objects.filter(pk__in=ids).update(status=DeliveryStatus.PENDING, last_error="")
    for notification_id in ids:
        transaction.on_commit(partial(enqueue, notification_id), robust=True)
    return len(ids)
