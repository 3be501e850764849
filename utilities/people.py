"""People as mail recipients."""

from __future__ import annotations

from collections.abc import Iterable


def email_addresses(people: Iterable) -> list[str]:
    """The addresses of the active people among ``people``, in their order, each address once (whatever its case)."""
    addresses: dict[str, str] = {}
    for person in people:
        email = (person.email or "").strip()
        if person.is_active and email:
            addresses.setdefault(email.lower(), email)
    return list(addresses.values())
