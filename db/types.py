"""Column types shared by the models."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import BigInteger, DateTime, Dialect, Text
from sqlalchemy.types import TypeDecorator

from db.secrets import SecretKeyError, is_encrypted, keyring_of

# Money is stored as a count of 1e-8 units in a signed 64-bit integer. These are facts of the
# storage; core.money builds the panel's money rules (parsing, rounding, display) on them.
PLACES = 8
# One money range for the whole product (balances, rates, charges, costs): wide enough for
# currencies such as IRR and VND (a provider balance of 12,000,000,000 is real), and two such
# amounts added in one UPDATE (balance + credit) still fit 2^63 − 1 units of 1e-8.
MAX_AMOUNT = Decimal(4) * Decimal(10) ** 10
_SCALE = 10**PLACES
_QUANTUM = Decimal(1).scaleb(-PLACES)


def stored_amount(value: Decimal | int | str) -> Decimal:
    """`value` at the stored precision (8 places, half up). Floats, non-finite amounts and
    amounts the column cannot hold are refused with ValueError (core.money.InvalidAmount is
    the same check with the panel's message)."""
    if isinstance(value, float):
        raise TypeError("money never comes from a float; pass a str or Decimal")
    amount = Decimal(value)
    if not amount.is_finite() or abs(amount) >= MAX_AMOUNT:
        raise ValueError(f"not a storable amount: {value!r}")
    return amount.quantize(_QUANTUM, rounding=ROUND_HALF_UP)


class Money(TypeDecorator[Decimal]):
    """A Decimal with 8 places, stored as an integer count of 1e-8 units.

    SQLite has no exact decimal type (SQLAlchemy would round-trip through float), so every
    database stores the scaled integer: arithmetic in conditional UPDATEs stays exact and the
    same migrations run on SQLite and PostgreSQL.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | int | str | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return int(stored_amount(value) * _SCALE)

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return (Decimal(int(value)) / _SCALE).quantize(_QUANTUM)

    @property
    def python_type(self) -> type:
        return Decimal


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the tzinfo)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    @property
    def python_type(self) -> type:
        return datetime


class EncryptedText(TypeDecorator[str]):
    """Text encrypted at rest when the engine has a keyring (SECRET_KEY), clear otherwise.

    Python code always sees the clear value; see db.secrets.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        keyring = keyring_of(dialect)
        if value is None or keyring is None or is_encrypted(value):
            return value
        return keyring.encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if not is_encrypted(value):
            return value
        keyring = keyring_of(dialect)
        if keyring is None:
            raise SecretKeyError("provider keys are stored encrypted: set SECRET_KEY")
        return keyring.decrypt(value)  # type: ignore[arg-type]

    @property
    def python_type(self) -> type:
        return str


def utcnow() -> datetime:
    return datetime.now(UTC)
