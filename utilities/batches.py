"""Items in batches of a given size: queries with long ``IN (…)`` lists, written or read a part at a time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def batched(items: Iterable, size: int) -> Iterator[list]:
    """Consecutive lists of at most ``size`` items (``itertools.batched``, which Python 3.11 lacks)."""
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start : start + size]
