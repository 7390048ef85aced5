"""Column types shared by the models."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime, Dialect
from sqlalchemy.types import TypeDecorator

from core.money import PLACES, money

_SCALE = 10**PLACES


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
        return int(money(value) * _SCALE)

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return (Decimal(int(value)) / _SCALE).quantize(Decimal(1).scaleb(-PLACES))

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


def utcnow() -> datetime:
    return datetime.now(UTC)
