"""One strict parser per kind of number a person types or a button carries.

Every number from outside is bounded once, here: decimal digits of any script count as
what they are ("١٢٣" is 123), while digit-like symbols ("²", "⁰", "½") are not digits; no
signs, exponents or fractions where none make sense, and nothing a 64-bit column cannot
hold. A parser answers None (or the caller raises its clear error) instead of a ValueError
or OverflowError deep in a handler.
"""

from __future__ import annotations

import re
import unicodedata

INT64_MAX = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")
_COUNT = re.compile(r"[0-9]{1,3}(?:[ _,][0-9]{3})+|[0-9]{1,12}")


def ascii_digits(text: str) -> str:
    """Decimal digits of every script as ASCII ("١٢" → "12"); everything else unchanged."""
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)


def parse_id(text: str) -> int | None:
    """An id typed by an admin or a customer ("42", "#42"): 1 … 2^63−1, else None."""
    text = ascii_digits(text.strip()).removeprefix("#")
    if not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if 0 < value <= INT64_MAX else None


def parse_count(text: str) -> int | None:
    """A quantity ("1000", "1 000", "1,000", "1_000"): at most 12 digits, else None."""
    text = ascii_digits(text.strip())
    if not _COUNT.fullmatch(text):
        return None
    return int(re.sub(r"[ _,]", "", text))
