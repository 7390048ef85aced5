"""Tolerant readers for the loosely typed values providers send (Q3–Q6, Q21, Q37).

The same field arrives as "0.90", 0.9, 12.5, "", null or "Unknown" depending on the panel;
these helpers turn all of them into Decimal / int / bool / None without ever raising.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

_TRUE = frozenset({"1", "true", "yes", "y", "on", "sim", "enabled", "available", "active"})
_FALSE = frozenset({"0", "false", "no", "n", "off", "nao", "não", "disabled", "unavailable"})
# Counts (start_count, remains, min, max...) beyond a signed 64-bit integer are nonsense.
INT64_MAX = 2**63 - 1
# An order id we can store (String(128)), send back in a comma-separated list and show.
MAX_ID_LENGTH = 128
_ID_SHAPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")
_NOT_IDS = frozenset({"null", "none", "nil", "undefined", "nan", "false", "true", "error"})


class CIMap(Mapping[str, Any]):
    """Read-only, case-insensitive view of a JSON object ("Start_Count" == "start_count").

    An exact lower-case key wins over a differently-cased duplicate. ``folded`` is the
    object with its keys in lower case: a reader asking for fixed lower-case names reads it
    directly (status sync reads ~15 keys of each of 100,000 entries).
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.source = data  # as the provider sent it (for admins' notes and snippets)
        folded = {str(key).lower(): value for key, value in data.items()}
        if len(folded) != len(data):  # keys differing only in case: the lower-case one wins
            folded = {}
            for key, value in data.items():
                name = str(key).lower()
                if name not in folded or str(key) == name:
                    folded[name] = value
        self.folded: dict[str, Any] = folded

    def __getitem__(self, key: str) -> Any:
        return self.folded[key.lower()]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.folded)

    def __len__(self) -> int:
        return len(self.folded)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self.folded

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        # Mapping.get goes through a KeyError per absent key.
        return self.folded.get(key.lower(), default)


def ci(data: Any) -> CIMap:
    """A case-insensitive view of ``data`` (an empty one if it is not an object); a view
    already made is returned as it is."""
    if isinstance(data, CIMap):
        return data
    return CIMap(data if isinstance(data, Mapping) else {})


def decode_json(text: str) -> Any:
    """Decode a body as JSON whatever its Content-Type said; BOM and whitespace stripped.

    Raises ValueError for empty or non-JSON text.
    """
    cleaned = text.lstrip("\ufeff").strip()
    if not cleaned:
        raise ValueError("empty body")
    return json.loads(cleaned)


def to_decimal(value: Any) -> Decimal | None:
    """Money/rate from str, int, float (via str, never binary) or Decimal; else None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return None
    text = value.strip().replace(" ", "")
    if not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def to_int(value: Any) -> int | None:
    """A count from "157", 157, 157.0, "157.0"; null, "", "Unknown" and counts beyond a
    signed 64-bit integer ("1e30") give None."""
    if value is None:  # the common shapes first (status sync reads ~4 per order)
        return None
    if type(value) is int:
        return value if abs(value) <= INT64_MAX else None
    if type(value) is str and value.isascii() and value.isdigit():
        number = int(value)
        return number if number <= INT64_MAX else None
    number = to_decimal(value)
    if number is None or abs(number) > INT64_MAX:
        return None
    return int(number)


def out_of_range(value: Any) -> bool:
    """A number was sent, but not one to_int can keep (too big): worth telling an admin."""
    return to_int(value) is None and to_decimal(value) is not None


def to_remains(value: Any) -> int | None:
    """``remains``: "+N" is SmartPanel's encoding of over-delivery, i.e. −N (Q6)."""
    number = to_int(value)
    if number is not None and isinstance(value, str) and value.strip().startswith("+"):
        return -abs(number)
    return number


def to_bool(value: Any) -> bool | None:
    """true/false from bools, 0/1, "1"/"0", "true", "yes", ...; missing or odd → None (Q39)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return None


def to_id(value: Any) -> str | None:
    """An opaque id as a string (Q8/Q9): 23501, "23501", "W8F3K2Q9" → str; else None."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def to_order_id(value: Any) -> str | None:
    """A provider order id we can sync, or None: a positive whole number, or an opaque token
    (letters, digits, ``_.:-``) of at most MAX_ID_LENGTH characters.

    0, "0", -1, NaN, 1.5, "1e5", "", true, {}, "null" and over-long values are not ids: an
    add answered with one of them did not tell us which order the provider created.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        if not value.is_integer():  # NaN and infinities are not integers either
            return None
        value = int(value)
    if isinstance(value, int):
        return str(value) if 0 < value <= INT64_MAX else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > MAX_ID_LENGTH or text.lower() in _NOT_IDS:
        return None
    if text.isdigit():
        return text if text.isascii() and int(text) > 0 else None
    if to_decimal(text) is not None:  # "1.5", "-7", "1e5", "Infinity": numbers, not ids
        return None
    return text if _ID_SHAPE.fullmatch(text) else None


def to_text(value: Any) -> str | None:
    """A display string; empty and non-scalar values give None."""
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def error_message(body: Any) -> str | None:
    """The refusal message of a top-level answer per §2 rules 2–3, or None.

    ``{"error": "..."}`` (also with extra keys such as a numeric ``status``) and
    ``{"status": "error", "message"|"msg": "..."}``. A top-level ``status`` is never read
    as an order status here (Q15).
    """
    if not isinstance(body, Mapping):
        return None
    data = ci(body).folded
    error = data.get("error")
    message = to_text(data.get("message")) or to_text(data.get("msg"))
    if error not in (None, "", False, 0, [], {}):
        # {"error": true|104, "message": "..."}: the words are in message.
        if isinstance(error, bool | int | float) and message:
            return message
        return _flatten(error)
    # Rule 3 needs a message: a bare {"status": "Error"} is a refill/order *status* word.
    status = data.get("status")
    if message and isinstance(status, str) and status.strip().lower() in ("error", "fail"):
        return message
    if message and data.get("success") is False:
        return message
    return None


def entry_error(value: Any) -> str | None:
    """The error inside one entry of a multi answer: a bare string or ``{"error": ...}``."""
    if isinstance(value, str):
        return value.strip() or "error"
    return error_message(value)


def _flatten(error: Any) -> str:
    if isinstance(error, Mapping):
        inner = ci(error)
        return to_text(inner.get("message")) or to_text(inner.get("msg")) or json.dumps(error)
    if isinstance(error, list):
        return "; ".join(_flatten(item) for item in error)
    return str(error).strip()


def is_success_envelope(body: Any) -> bool:
    """Prose-only success answers (Q14): ``{"success": "..."}`` or ``{"status": "success"}``."""
    data = ci(body)
    success = data.get("success")
    if isinstance(success, str) and success.strip():
        return True
    if success is True:
        return True
    status = data.get("status")
    return isinstance(status, str) and status.strip().lower() in ("success", "ok")
