"""Emails about access requests: to the access managers when one arrives, to the requester when decided.

Sent after the transaction commits. An email names people, the object and the purpose, never a
row of data. A mail server that refuses is logged, not raised: the decision is already saved,
and the requester also sees it on their "My access" page.
"""

from __future__ import annotations

import logging
import smtplib

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from . import audit, policy
from .models import AccessRequest

logger = logging.getLogger(__name__)


def absolute(path: str) -> str:
    return settings.LODESTAR_BASE_URL.rstrip("/") + path


def request_context(request: AccessRequest) -> dict:
    obj = request.content_object
    product = audit.product_of(obj)
    page = product.get_absolute_url() + "#access" if product is not None else reverse("access:mine")
    return {
        "request": request,
        "object": obj,
        "requester": request.requester,
        "page_url": absolute(page),
        "mine_url": absolute(reverse("access:mine")),
    }


def send(template: str, context: dict, recipients: list[str]) -> int:
    recipients = [address for address in recipients if address]
    if not recipients:
        return 0
    subject = " ".join(render_to_string(f"access/email/{template}_subject.txt", context).split())
    body = render_to_string(f"access/email/{template}.txt", context)
    try:
        return send_mail(subject, body, None, recipients)
    except (smtplib.SMTPException, OSError):
        logger.exception("Could not send the %s email for access request %s", template, context["request"].pk)
        return 0


def request_arrived(request: AccessRequest) -> int:
    """Tell the object's access managers (the owner, trusted stewards) that a request waits for them."""
    managers = policy.access_managers(request.content_object).exclude(pk=request.requester_id)
    return send("request_arrived", request_context(request), [user.email for user in managers])


def request_decided(request: AccessRequest) -> int:
    """Tell the requester their request was approved or denied, with the decider's comment."""
    return send(f"request_{request.status}", request_context(request), [request.requester.email])
