"""Text cells safe to open in a spreadsheet: a cell that starts like a formula is neutralised (CSV injection).

Used by every CSV the hub writes: the audit log export and data downloads. A cell starting with
``= + - @``, a tab or a carriage return is prefixed with ``'``, which spreadsheets show as text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_PATTERN = r"^[=+\-@\t\r]"
ESCAPE = "'"


def safe_cell(text: str) -> str:
    return ESCAPE + text if text.startswith(FORMULA_STARTS) else text


def safe_text_array(array: pyarrow.Array, memory_pool: pyarrow.MemoryPool | None = None) -> pyarrow.Array:
    """A text column with ``safe_cell`` applied to every value, at Arrow speed (nulls stay null)."""
    import pyarrow.compute as pc

    risky = pc.match_substring_regex(array, FORMULA_PATTERN, memory_pool=memory_pool)
    if not pc.any(risky).as_py():
        return array
    escaped = pc.binary_join_element_wise(ESCAPE, array, "", memory_pool=memory_pool)
    return pc.if_else(risky, escaped, array, memory_pool=memory_pool)
