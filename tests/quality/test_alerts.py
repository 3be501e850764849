"""Alerts: who hears of a change, what a webhook receives, retries, and the addresses the hub refuses to call.

Webhooks go to a real HTTP server on 127.0.0.1, which only works with private addresses allowed;
the tests of the guard turn that off again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import transaction

from hub.celery import app
from quality.alerts import create_webhook, deliver_notification, notify
from quality.models import Incident, Notification, Webhook
from quality.webhooks import validate_webhook_url
from tests import factories

BASE_URL = "https://hub.example.com"
PUBLIC_IP = "93.184.215.14"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """What the test server was sent, and what it answers next (a list of statuses, then 200s)."""

    url: str = ""
    port: int = 0
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    requests: list[Received] = field(default_factory=list)


@pytest.fixture(autouse=True)
def alert_settings(settings):
    settings.LODESTAR_BASE_URL = BASE_URL
    settings.LODESTAR_WEBHOOK_TIMEOUT_SECONDS = 0.2
    settings.LODESTAR_WEBHOOK_ALLOW_PRIVATE = False
    return settings


@pytest.fixture
def receiver(settings):
    settings.LODESTAR_WEBHOOK_ALLOW_PRIVATE = True
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            time.sleep(state.delay)
            self.send_response(state.statuses.pop(0) if state.statuses else 200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"nope!")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.port = server.server_port
    state.url = f"http://127.0.0.1:{state.port}/hooks/lodestar?team=data"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def eager():
    """Tasks queued on commit run at once, in the test."""
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def alert(product, incident=None) -> list[Notification]:
    return notify(
        product, "incident_opened", "Incident opened: rows", "Check failed: rows", {"observed": 0}, incident=incident
    )


def deliver(notification: Notification) -> Notification:
    deliver_notification.apply(args=(notification.pk,))
    notification.refresh_from_db()
    return notification


def webhook_notification(product, url: str) -> tuple[Notification, str]:
    webhook, secret = create_webhook(product, url)
    [notification] = [n for n in alert(product) if n.webhook_id == webhook.pk]
    return notification, secret


# --- Who is told ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_emails_owner_and_stewards_once_each_skipping_inactive_users_and_users_without_email(
    product, alice, bob, eager, django_capture_on_commit_callbacks
):
    inactive = factories.UserFactory(username="dave", is_active=False)
    no_email = factories.UserFactory(username="erin", email="")
    bob_again = factories.UserFactory(username="frank", email="BOB@example.com")
    product.stewards.add(alice, inactive, no_email, bob_again)

    with django_capture_on_commit_callbacks(execute=True):
        notifications = alert(product)

    assert sorted(n.recipient for n in notifications) == ["alice@example.com", "bob@example.com"]
    assert sorted(message.to[0] for message in mail.outbox) == ["alice@example.com", "bob@example.com"]
    assert all(len(message.to) == 1 for message in mail.outbox)
    message = mail.outbox[0]
    assert message.subject == "Incident opened: rows"
    assert "Check failed: rows" in message.body
    assert f"{BASE_URL}/products/cross-sell/" in message.body
    assert set(Notification.objects.values_list("status", "attempts")) == {("sent", 1)}
    assert all(n.sent_at for n in Notification.objects.all())


@pytest.mark.django_db
def test_it_alerts_enabled_webhooks_only(product, settings):
    settings.LODESTAR_WEBHOOK_ALLOW_PRIVATE = True
    on, _ = create_webhook(product, "http://127.0.0.1:9/on")
    create_webhook(product, "http://127.0.0.1:9/off", enabled=False)
    webhooks = [n for n in alert(product) if n.channel == "webhook"]
    assert [(n.webhook, n.recipient) for n in webhooks] == [(on, "http://127.0.0.1:9/on")]


@pytest.mark.django_db
def test_a_rolled_back_change_alerts_no_one(product, receiver, eager, django_capture_on_commit_callbacks):
    create_webhook(product, receiver.url)

    class Boom(Exception):
        pass

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(Boom), transaction.atomic():
            assert len(alert(product)) == 3
            raise Boom

    assert callbacks == []
    assert Notification.objects.count() == 0
    assert mail.outbox == []
    assert receiver.requests == []


# --- What a webhook receives -----------------------------------------------------------------


@pytest.mark.django_db
def test_the_webhook_receives_signed_json_about_the_product_and_incident(product, receiver):
    output = factories.OutputFactory(product=product, name="orders")
    check = factories.CheckFactory(output=output, name="rows", check_type="row_count")
    incident = Incident.objects.create(product=product, quality_check=check, title="Check failed: rows")
    webhook, secret = create_webhook(product, receiver.url)
    [notification] = [n for n in alert(product, incident) if n.webhook_id == webhook.pk]

    assert deliver(notification).status == "sent"

    [request] = receiver.requests
    assert request.path == "/hooks/lodestar?team=data"
    headers = request.headers
    assert headers["content-type"] == "application/json"
    assert headers["x-lodestar-event"] == "incident_opened"
    assert headers["x-lodestar-delivery"] == str(notification.pk)
    assert abs(int(headers["x-lodestar-timestamp"]) - time.time()) < 60
    signed = headers["x-lodestar-timestamp"].encode() + b"." + request.body
    expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-lodestar-signature"], expected)

    body = json.loads(request.body)
    assert body["event"] == "incident_opened"
    assert body["product"] == {"slug": "cross-sell", "name": "Cross-sell", "url": f"{BASE_URL}/products/cross-sell/"}
    assert body["incident"]["id"] == incident.pk
    assert body["incident"]["title"] == "Check failed: rows"
    assert body["incident"]["status"] == "open"
    assert body["incident"]["subject"] == {"type": "check", "name": "rows"}
    assert body["data"] == {"observed": 0}
    assert body["sent_at"]
    assert notification.attempts == 1 and notification.sent_at is not None and notification.last_error == ""


@pytest.mark.django_db
def test_a_webhook_without_an_incident_sends_null(product, receiver):
    notification, _ = webhook_notification(product, receiver.url)
    deliver(notification)
    assert json.loads(receiver.requests[0].body)["incident"] is None


@pytest.mark.django_db
def test_the_secret_is_stored_encrypted_only(product, receiver):
    webhook, secret = create_webhook(product, receiver.url)
    assert len(secret) >= 40
    assert secret not in webhook.encrypted_secret
    assert Webhook.objects.get().secret == secret


# --- Retries ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_5xx_is_retried_until_the_receiver_accepts(product, receiver):
    receiver.statuses = [500, 503]
    notification, _ = webhook_notification(product, receiver.url)

    notification = deliver(notification)

    assert (notification.status, notification.attempts, notification.last_error) == ("sent", 3, "")
    assert len(receiver.requests) == 3
    assert {r.headers["x-lodestar-delivery"] for r in receiver.requests} == {str(notification.pk)}


@pytest.mark.django_db
def test_a_receiver_that_keeps_failing_fails_the_notification_after_the_retries(product, receiver):
    receiver.statuses = [500] * 10
    notification, _ = webhook_notification(product, receiver.url)
    notification = deliver(notification)
    assert (notification.status, notification.attempts) == ("failed", 6)
    assert notification.last_error.startswith("HTTP 500")


@pytest.mark.django_db
def test_a_message_sent_again_continues_the_count_of_attempts(product, receiver):
    """The sweeper re-sends a notification whose retry was lost: its attempts so far still count."""
    receiver.statuses = [500] * 10
    notification, _ = webhook_notification(product, receiver.url)
    Notification.objects.filter(pk=notification.pk).update(attempts=4)
    notification = deliver(notification)
    assert (notification.status, notification.attempts) == ("failed", 6)
    assert len(receiver.requests) == 2
    assert notification.last_attempt_at is not None


@pytest.mark.django_db
def test_a_4xx_fails_at_once(product, receiver):
    receiver.statuses = [404]
    notification, _ = webhook_notification(product, receiver.url)
    notification = deliver(notification)
    assert (notification.status, notification.attempts) == ("failed", 1)
    assert notification.last_error.startswith("HTTP 404")
    assert "nope!" in notification.last_error
    assert len(receiver.requests) == 1


@pytest.mark.django_db
def test_a_redirect_is_not_followed(product, receiver):
    receiver.statuses = [302]
    notification, _ = webhook_notification(product, receiver.url)
    notification = deliver(notification)
    assert (notification.status, notification.attempts) == ("failed", 1)
    assert "not followed" in notification.last_error
    assert len(receiver.requests) == 1


@pytest.mark.django_db
def test_a_receiver_that_does_not_answer_in_time_is_recorded_as_a_timeout(product, receiver):
    receiver.delay = 1.0  # the timeout is 0.2 s
    notification, _ = webhook_notification(product, receiver.url)
    notification = deliver(notification)
    assert (notification.status, notification.attempts) == ("failed", 6)
    assert "timed out" in notification.last_error


@pytest.mark.django_db
def test_a_notification_already_sent_is_not_sent_again(product, receiver):
    notification, _ = webhook_notification(product, receiver.url)
    deliver(notification)
    assert deliver_notification.apply(args=(notification.pk,)).get() == "skipped"
    assert len(receiver.requests) == 1


@pytest.mark.django_db
def test_a_disabled_webhook_is_not_called(product, receiver):
    notification, _ = webhook_notification(product, receiver.url)
    Webhook.objects.update(enabled=False)
    assert deliver(notification).status == "failed"
    assert receiver.requests == []


# --- Addresses the hub refuses to call ----------------------------------------------------------

PRIVATE_URLS = [
    "http://127.0.0.1/hook",
    "http://10.0.0.1/hook",
    "http://192.168.1.20:8080/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:8080/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[fe80::1]/hook",
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",
    "http://localhost:8000/hook",
]


@pytest.mark.django_db
@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_webhooks_to_private_addresses_are_refused_when_saved(product, url):
    with pytest.raises(ValidationError) as error:
        create_webhook(product, url)
    assert "url" in error.value.message_dict
    assert not Webhook.objects.exists()


@pytest.mark.parametrize(
    "url", ["ftp://example.com/hook", "file:///etc/passwd", "gopher://example.com/", f"http://me:pw@{PUBLIC_IP}/"]
)
def test_only_plain_http_and_https_urls_are_accepted(url):
    with pytest.raises(ValidationError):
        validate_webhook_url(url)


@pytest.mark.parametrize("url", [f"https://{PUBLIC_IP}/hook", f"http://{PUBLIC_IP}:8080/hook?x=1"])
def test_public_addresses_are_accepted(url):
    validate_webhook_url(url)


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_an_admin_may_allow_private_addresses(settings, url):
    settings.LODESTAR_WEBHOOK_ALLOW_PRIVATE = True
    validate_webhook_url(url)


@pytest.mark.django_db
def test_a_webhook_that_became_private_is_refused_at_delivery(product, receiver, settings):
    notification, _ = webhook_notification(product, receiver.url)
    settings.LODESTAR_WEBHOOK_ALLOW_PRIVATE = False

    notification = deliver(notification)

    assert (notification.status, notification.attempts) == ("failed", 1)
    assert notification.last_error.startswith("Refused: 127.0.0.1 resolves to 127.0.0.1")
    assert receiver.requests == []


@pytest.fixture
def dns(monkeypatch):
    """Answers for made-up host names; ``lookups`` counts the questions about them."""
    answers: dict[str, list[str]] = {}
    lookups: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            lookups.append(host)
            address = answers[host].pop(0) if len(answers[host]) > 1 else answers[host][0]
            return real(address, port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers, lookups


@pytest.mark.django_db
def test_a_host_that_rebinds_to_a_private_address_is_refused_at_delivery(product, receiver, settings, dns):
    answers, _ = dns
    answers["hooks.example"] = [PUBLIC_IP, "127.0.0.1"]
    settings.LODESTAR_WEBHOOK_ALLOW_PRIVATE = False
    notification, _ = webhook_notification(product, f"http://hooks.example:{receiver.port}/hook")

    notification = deliver(notification)

    assert notification.status == "failed"
    assert "hooks.example resolves to 127.0.0.1" in notification.last_error
    assert receiver.requests == []


@pytest.mark.django_db
def test_delivery_connects_to_the_address_it_checked_and_names_the_host(product, receiver, dns):
    answers, lookups = dns
    answers["hooks.example"] = ["127.0.0.1"]
    notification, _ = webhook_notification(product, f"http://hooks.example:{receiver.port}/hook")
    lookups.clear()

    assert deliver(notification).status == "sent"

    assert lookups == ["hooks.example"]  # checked once; the connection did not ask again
    assert receiver.requests[0].headers["host"] == f"hooks.example:{receiver.port}"


# --- Admin ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_lists_webhooks_without_their_secret_and_notifications(client, admin_user, product, receiver):
    webhook, secret = create_webhook(product, receiver.url)
    alert(product)
    client.force_login(admin_user)

    page = client.get(f"/admin/quality/webhook/{webhook.pk}/change/").content.decode()
    assert receiver.url in page
    assert secret not in page and webhook.encrypted_secret not in page
    assert client.get("/admin/quality/webhook/add/").status_code == 403

    page = client.get("/admin/quality/notification/?status__exact=pending").content.decode()
    assert "alice@example.com" in page and "incident_opened" in page
