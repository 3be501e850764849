"""Masking of sensitive column values for readers without unmasked access.

Each column classified as sensitive has a method (``OutputColumn.masking``):

* ``redact``: the value becomes ``***``, whatever it was, None included (so a reader cannot tell
  an empty value from a filled one).
* ``hash``: a keyed hash, ``h:`` and 16 hex digits of HMAC-SHA256 under ``LODESTAR_MASKING_KEY``.
  Equal values give equal hashes, so masked columns stay joinable; without the key nobody can
  hash a guess to find the value. Values are hashed in a canonical text form, so ``42`` read
  from Parquet and ``"42"`` read from CSV join. None stays None.
* ``partial``: an email keeps its first character and its domain (``j***@example.com``); another
  string its first and last characters when it has at least four, else ``***``; any other value
  (number, date, boolean) becomes ``***``. None stays None.
* ``null``: the value becomes None.

Sensitive classifications are those in ``SENSITIVE_CLASSIFICATIONS``: only PII today, as the
other classifications (public, internal) are readable by every signed-in user.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterable
from datetime import date, datetime
from datetime import time as clock
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings

from products.choices import Classification, DataType, MaskingMethod

if TYPE_CHECKING:
    from products.models import Output

REDACTED = "***"
HASH_PREFIX = "h:"
HASH_DIGITS = 16
SENSITIVE_CLASSIFICATIONS = frozenset({Classification.PII})


def masking_key() -> bytes:
    configured = settings.LODESTAR_MASKING_KEY
    if configured:
        return configured.encode()
    # Like the credentials key (utilities/crypto.py), with a prefix of its own so the two never coincide.
    return hashlib.sha256(("lodestar-masking:" + settings.SECRET_KEY).encode()).digest()


def canonical(value: Any) -> str:
    """The text a value is hashed as: the same for a value however its source typed it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | Decimal) and math.isfinite(value) and value == int(value):
        return str(int(value))  # 42.0 joins 42
    if isinstance(value, datetime | date | clock):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def keyed_hash(value: Any, key: bytes | None = None) -> str | None:
    if value is None:
        return None
    digest = hmac.new(key or masking_key(), canonical(value).encode(), hashlib.sha256).hexdigest()
    return HASH_PREFIX + digest[:HASH_DIGITS]


def partial(value: Any, data_type: str | None = None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or data_type not in (None, DataType.STRING):
        return REDACTED
    if "@" in value:
        local, _, domain = value.rpartition("@")
        return f"{local[:1]}{REDACTED}@{domain}"
    if len(value) >= 4:
        return f"{value[0]}{REDACTED}{value[-1]}"
    return REDACTED


def mask_value(value: Any, method: str, *, data_type: str | None = None) -> Any:
    """The value as a reader without unmasked access sees it, under one masking method."""
    if method == MaskingMethod.REDACT:
        return REDACTED
    if method == MaskingMethod.HASH:
        return keyed_hash(value)
    if method == MaskingMethod.PARTIAL:
        return partial(value, data_type)
    if method == MaskingMethod.NULL:
        return None
    raise ValueError(f"Unknown masking method {method!r}; expected one of {', '.join(MaskingMethod.values)}.")


def mask_values(values: Iterable[Any], method: str, *, data_type: str | None = None) -> list[Any]:
    """A whole column masked at once (a list, or a pyarrow array's ``to_pylist()``)."""
    return [mask_value(value, method, data_type=data_type) for value in values]


def mask_row(row: dict[str, Any], methods: dict[str, str]) -> dict[str, Any]:
    """The row with each listed column masked by its method; other columns untouched."""
    return {key: mask_value(value, methods[key]) if key in methods else value for key, value in row.items()}


def masking_methods(output: Output) -> dict[str, str]:
    """The masking method of each sensitive column of the output, by column name."""
    columns = output.columns.filter(classification__in=SENSITIVE_CLASSIFICATIONS)
    return dict(columns.values_list("name", "masking"))
