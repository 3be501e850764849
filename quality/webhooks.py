"""Signed webhook POSTs that cannot be pointed at the hub's own network.

A webhook URL is user input that makes the hub send requests, so its host is resolved and
refused when any address it resolves to is loopback, link-local, private, multicast, reserved or
unspecified — unless the admin allows it (``LODESTAR_WEBHOOK_ALLOW_PRIVATE``). The check runs when
the webhook is saved and again at every delivery, and the request then goes to the very addresses
that were checked (never a second lookup that DNS rebinding could answer differently). Redirects
are never followed: ``http.client`` does not follow them, and a 3xx is reported as a failure.

This module knows nothing of the models, so ``Webhook.clean`` can call it.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

SCHEMES = {"http": 80, "https": 443}
USER_AGENT = "Lodestar-Webhook/1"
# Enough of a receiver's reply to explain a failure; the rest is not read.
MAX_REPLY_BYTES = 1024

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURL(ValueError):
    """The URL is malformed, not http(s), or reaches an address the hub may not call."""


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (the checked addresses) and what to ask for."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class Reply:
    status: int
    reason: str
    location: str
    text: str


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``"<timestamp>.<body>"`` under the webhook's secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def is_forbidden(address: IPAddress) -> bool:
    # ::ffff:127.0.0.1 is 127.0.0.1 to the kernel: judge the IPv4 address it carries.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global  # e.g. 100.64.0.0/10, shared carrier-grade NAT space
    )


def parse(url: str) -> SplitResult:
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise UnsafeURL("Webhook URLs must start with http:// or https://.")
    if not parts.hostname:
        raise UnsafeURL("The webhook URL has no host.")
    if parts.username or parts.password:
        raise UnsafeURL("Put no credentials in the webhook URL; the signature authenticates the hub.")
    try:
        parts.port  # noqa: B018 — urlsplit only checks the port when asked
    except ValueError:
        raise UnsafeURL("The webhook URL's port is not valid.") from None
    return parts


def resolve(host: str, port: int) -> tuple[str, ...]:
    """Every address ``host`` resolves to, in the resolver's order; ``OSError`` when it does not resolve."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return tuple(dict.fromkeys(info[4][0] for info in infos))


def check(url: str) -> Target:
    """Resolve the URL's host and refuse it when the hub may not call it.

    Raises ``UnsafeURL`` for a refused URL and ``OSError`` when the host does not resolve.
    """
    parts = parse(url)
    port = parts.port or SCHEMES[parts.scheme]
    addresses = resolve(parts.hostname, port)
    if not settings.LODESTAR_WEBHOOK_ALLOW_PRIVATE:
        # All of them: a name resolving to one public and one private address is refused.
        refused = [address for address in addresses if is_forbidden(ipaddress.ip_address(address.split("%")[0]))]
        if refused:
            raise UnsafeURL(
                f"{parts.hostname} resolves to {refused[0]}, a loopback, private, link-local or reserved "
                "address; webhooks may only call public addresses (an admin may allow private ones with "
                "LODESTAR_WEBHOOK_ALLOW_PRIVATE)."
            )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, parts.hostname, port, path, addresses)


def validate_webhook_url(url: str) -> None:
    """The form and model check: a ``ValidationError`` when the hub would refuse to call ``url``."""
    try:
        check(url)
    except UnsafeURL as exc:
        raise ValidationError(str(exc), code="unsafe_url") from None
    except OSError as exc:
        raise ValidationError(f"The webhook's host cannot be resolved: {exc}", code="unresolved_host") from None


class PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked addresses, while the Host header names the URL's host."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.addresses = target.addresses

    def connect(self) -> None:
        self.sock = connect_any(self.addresses, self.port, self.timeout)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Like ``PinnedHTTPConnection``; TLS still checks the certificate against the URL's host name."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self.addresses = target.addresses

    def connect(self) -> None:
        sock = connect_any(self.addresses, self.port, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def connect_any(addresses: tuple[str, ...], port: int, timeout: float) -> socket.socket:
    """The first of the addresses that accepts a connection (localhost may be ::1 and 127.0.0.1)."""
    error: OSError = OSError("No address to connect to.")
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout=timeout)
        except OSError as exc:
            error = exc
    raise error


def post(target: Target, body: bytes, headers: dict[str, str], timeout: float) -> Reply:
    """POST ``body`` to the checked target; the reply, whatever its status. ``OSError`` and
    ``http.client.HTTPException`` when the receiver cannot be reached or answers nonsense."""
    connection_class = PinnedHTTPSConnection if target.scheme == "https" else PinnedHTTPConnection
    connection = connection_class(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers={"User-Agent": USER_AGENT, **headers})
        response = connection.getresponse()
        text = response.read(MAX_REPLY_BYTES).decode("utf-8", "replace")
        return Reply(response.status, response.reason, response.getheader("Location", ""), text)
    finally:
        connection.close()
