"""The semantic-version rule: a published product's breaking change needs a major version bump.

Removing an output, removing an output's column or changing a column's type breaks the
products and people that read it; adding never does. On a published (or deprecated) product
such a change must raise the major version in the same change (1.4.0 → 2.0.0), or it is
refused with a ``ValidationError`` on ``version`` that names the breaking changes and the
version to use.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

from .choices import Status

GUARDED_STATUSES = (Status.PUBLISHED, Status.DEPRECATED)
SEMVER = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?")


class BreakingChange(ValidationError):
    """A breaking change without a major bump; a ValidationError on ``version``."""

    def __init__(self, changes: list[str], current: str, needed: str) -> None:
        self.changes, self.needed = changes, needed
        listed = "; ".join(changes)
        message = (
            f"This change is breaking ({listed}): raise the major version from {current} to {needed} "
            "in the same change, or undo it."
        )
        super().__init__({"version": [message]})


def outputs_of(document: dict | None) -> dict[str, dict]:
    outputs = ((document or {}).get("spec") or {}).get("outputs") or []
    return {item["name"]: item for item in outputs}


def columns_of(output: dict) -> dict[str, dict]:
    return {column["name"]: column for column in output.get("columns") or []}


def breaking_changes(old_doc: dict | None, new_doc: dict | None) -> list[str]:
    """What ``new_doc`` breaks for readers of ``old_doc``'s outputs, in words; empty if nothing."""
    old_outputs, new_outputs = outputs_of(old_doc), outputs_of(new_doc)
    changes = []
    for name, old in old_outputs.items():
        new = new_outputs.get(name)
        if new is None:
            changes.append(f"output '{name}' removed")
            continue
        new_columns = columns_of(new)
        for column, before in columns_of(old).items():
            after = new_columns.get(column)
            if after is None:
                changes.append(f"output '{name}': column '{column}' removed")
            elif after.get("type") != before.get("type"):
                changes.append(f"output '{name}': column '{column}' type {before.get('type')} → {after.get('type')}")
    return changes


CHANGED_OUTPUT = re.compile(r"^output '([^']+)'")  # how each line of ``breaking_changes`` begins
CHANGED_COLUMN = re.compile(r"^output '([^']+)': column '([^']+)'")


def changes_to(changes: list[str], reads) -> list[str]:
    """The lines of ``breaking_changes`` that break a reader of ``reads``: what breaks for it.

    ``reads`` names the outputs read, or maps each to the columns read (``ProductInput.columns``;
    none listed: all of them). A changed column breaks only a reader of that column; a removed
    output breaks every reader of it.
    """
    reads = reads if isinstance(reads, dict) else {name: set() for name in reads}
    kept = []
    for line in changes:
        output = CHANGED_OUTPUT.match(line)
        if output is None or output.group(1) not in reads:
            continue
        column, columns = CHANGED_COLUMN.match(line), reads[output.group(1)]
        if column is None or not columns or column.group(2) in columns:
            kept.append(line)
    return kept


def merge_reads(reads: dict, output: str, columns) -> None:
    """Add one input's read of ``output`` to ``reads`` (output → columns; an empty set: every column)."""
    columns = set(columns or ())
    if output not in reads:
        reads[output] = columns
    elif not reads[output] or not columns:
        reads[output] = set()  # one of the inputs reads every column
    else:
        reads[output] |= columns


def major(version: str) -> int | None:
    match = SEMVER.match(str(version or "").strip())
    return int(match.group(1)) if match else None


def next_major(version: str) -> str:
    return f"{(major(version) or 0) + 1}.0.0"


def check(old_doc: dict | None, new_doc: dict) -> None:
    """Raise ``BreakingChange`` if ``new_doc`` breaks ``old_doc`` on a published product without a major bump."""
    if old_doc is None:
        return
    # The rule protects readers: a product only has them once published (the status it had before the change).
    if (old_doc.get("metadata") or {}).get("status") not in GUARDED_STATUSES:
        return
    changes = breaking_changes(old_doc, new_doc)
    if not changes:
        return
    old_version = str((old_doc.get("metadata") or {}).get("version") or "")
    new_version = str((new_doc.get("metadata") or {}).get("version") or "")
    old_major, new_major = major(old_version), major(new_version)
    if old_major is not None and new_major is not None and new_major > old_major:
        return
    raise BreakingChange(changes, old_version or "(none)", next_major(old_version))
