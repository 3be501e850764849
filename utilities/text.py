"""Plain-text output for management commands."""

from __future__ import annotations


def plain_table(headers: list[str], rows: list[list], right: set[int] | None = None) -> str:
    """Columns padded to their widest cell, two spaces apart; the columns in ``right`` right-aligned."""
    right = right or set()
    cells = [headers] + [[str(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        padded = [cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  " + "  ".join(padded).rstrip())
    return "\n".join(lines)
