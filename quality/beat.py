"""One beat at a time: django-celery-beat's scheduler behind a lease row in the database.

django-celery-beat has no lock of its own, so two beats started against one database would send
every due task twice. ``LeasedScheduler`` sends only while it holds the ``BeatLease`` row: it takes
the row with a conditional UPDATE (won by the holder, or by anyone once the lease has run out) and
extends it on every tick. A second beat keeps ticking without sending; it takes over when the first
stops (it gives the lease back on a clean shutdown) or when the lease runs out after a crash.

The lease lives in the database, so it works on the embedded SQLite default as on PostgreSQL,
whatever the broker. The beats' clocks must agree to well within the lease (NTP does).
"""

from __future__ import annotations

import logging
import os
import socket
import uuid

from django.db import DatabaseError, InterfaceError, close_old_connections
from django_celery_beat.schedulers import DatabaseScheduler

from .models import BeatLease

logger = logging.getLogger(__name__)

LEASE_NAME = "beat"
# Longer than a few ticks (a tick waits at most max_interval, 5 s), short enough for a quick takeover.
LEASE_SECONDS = 30


class LeasedScheduler(DatabaseScheduler):
    """A ``DatabaseScheduler`` that sends due tasks only while it holds the beat lease."""

    def __init__(self, *args, lease_seconds: float = LEASE_SECONDS, **kwargs) -> None:
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease_seconds = lease_seconds
        self.leading = False
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs) -> float:
        if not self.hold_lease():
            # Standing by: look again before the holder's lease could run out.
            return min(self.max_interval, self.lease_seconds / 3)
        return min(super().tick(*args, **kwargs), self.lease_seconds / 3)

    def hold_lease(self) -> bool:
        close_old_connections()  # beat lives long: drop a connection the database closed
        try:
            held = BeatLease.take(LEASE_NAME, self.holder, self.lease_seconds)
        except (DatabaseError, InterfaceError) as exc:
            logger.warning("Cannot reach the beat lease (%s); not sending until it can be taken.", exc)
            held = False
        if held and not self.leading:
            logger.info("This beat (%s) holds the lease and schedules.", self.holder)
            # Read the schedule and its last runs as the previous holder left them in the database.
            self._initial_read = True
            self._heap = None
        elif self.leading and not held:
            logger.warning("This beat (%s) lost the lease; another beat schedules.", self.holder)
        self.leading = held
        return held

    def close(self) -> None:
        super().close()
        if self.leading:
            try:
                BeatLease.release(LEASE_NAME, self.holder)
            except (DatabaseError, InterfaceError) as exc:
                logger.warning("Cannot give the beat lease back (%s); it runs out on its own.", exc)
            self.leading = False
