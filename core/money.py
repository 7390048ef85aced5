"""Money is Decimal with 8 places, everywhere.

Provider rates go as low as 0.0002 per 1000 and provider charges arrive with 8+ digits, so we
store 8 places exactly and only round when showing an amount to a person.
"""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

from core.numbers import ascii_digits
from db.types import MAX_AMOUNT, PLACES

QUANTUM = Decimal(1).scaleb(-PLACES)  # 0.00000001
DISPLAY_QUANTUM = Decimal("0.0001")
ZERO = Decimal(0)


_TYPED_AMOUNT = re.compile(r"[+-]?[0-9]{1,20}(?:\.[0-9]{1,20})?")


class InvalidAmount(ValueError):
    """Raised for text or numbers that are not a usable amount of money."""


def money(value: Decimal | int | str) -> Decimal:
    """Exact conversion to a Decimal with 8 places (half up). Floats are refused on purpose."""
    if isinstance(value, float):
        raise TypeError("money never comes from a float; pass a str or Decimal")
    try:
        amount = Decimal(value)
    except (InvalidOperation, ValueError) as exc:
        raise InvalidAmount(f"not an amount: {value!r}") from exc
    if not amount.is_finite() or abs(amount) >= MAX_AMOUNT:
        raise InvalidAmount(f"not an amount: {value!r}")
    return amount.quantize(QUANTUM, rounding=ROUND_HALF_UP)


def in_range(value: Decimal | None) -> bool:
    """A finite amount the panel can store (a provider's charge may not be one)."""
    return value is not None and value.is_finite() and abs(value) < MAX_AMOUNT


def parse_amount(text: str) -> Decimal:
    """Parse an amount typed by a person ("12.5", "12,50", "-3"); 8 places at most."""
    cleaned = ascii_digits(text.strip()).replace(",", ".")
    if not _TYPED_AMOUNT.fullmatch(cleaned):  # digits only: no "²", "1e3" or "NaN"
        raise InvalidAmount(f"not an amount: {text!r}")
    amount = money(cleaned)
    if Decimal(cleaned) != amount:
        raise InvalidAmount(f"more than {PLACES} decimal places: {text!r}")
    return amount


def round_down(value: Decimal) -> Decimal:
    """Round toward zero to the money precision: refunds never give away a fraction too much."""
    return value.quantize(QUANTUM, rounding=ROUND_DOWN)


def format_money(value: Decimal, currency: str | None = None) -> str:
    """Customer-facing amount: two to four decimals ("12.50", "0.0125").

    An amount too small for four places keeps its significant digits (up to 8) instead of
    showing a misleading "0.00".
    """
    shown = value.quantize(DISPLAY_QUANTUM, rounding=ROUND_HALF_UP)
    if shown == 0 and value != 0:
        shown = value.quantize(QUANTUM, rounding=ROUND_HALF_UP).normalize()
    text = f"{shown:f}"
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0").ljust(2, "0")
    text = f"{whole}.{frac}"
    return f"{text} {currency}" if currency else text
