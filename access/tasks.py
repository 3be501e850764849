"""Periodic work of access: record the grants that expired (beat, every 10 minutes)."""

from __future__ import annotations

from celery import shared_task

from . import grants


@shared_task
def expire_access_grants() -> int:
    """An expired grant already stops working at read time; this writes its expiry in the audit log."""
    return grants.expire_grants()
