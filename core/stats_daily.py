"""/stats as a picture: orders, revenue and profit per UTC day, and the top services.

Same money rules as core.stats: revenue is charge − refunded, cost counts only orders the
provider keeps money for, in the panel's currency (core.fx; a provider without a rate has
its costs left out, never added as if in ours). Aggregated here rather than in SQL, so that
a day is the same UTC day on every backend; one read of the window's orders, fine for an
admin command.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import fx
from core.money import ZERO
from core.stats import NO_COST_STATUSES
from db.models import Order, Provider, Service
from db.types import utcnow

DAYS = 30
TOP = 5


@dataclass
class Day:
    day: date
    orders: int = 0
    revenue: Decimal = ZERO
    cost: Decimal = ZERO

    @property
    def profit(self) -> Decimal:
        return self.revenue - self.cost


@dataclass
class TopService:
    name: str
    orders: int = 0
    revenue: Decimal = ZERO


@dataclass
class Series:
    days: list[Day]
    top: list[TopService] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(day.orders for day in self.days)


async def daily_series(
    session: AsyncSession,
    *,
    currency: str,
    days: int = DAYS,
    now: datetime | None = None,
    top: int = TOP,
) -> Series:
    """The last `days` UTC days up to today (every day present, zeros included)."""
    today = (now or utcnow()).date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=(now or utcnow()).tzinfo)
    by_day = {first + timedelta(days=n): Day(first + timedelta(days=n)) for n in range(days)}
    services: dict[int, TopService] = {}
    rates = {p.id: fx.rate_of(p, currency) for p in await session.scalars(select(Provider))}
    rows = await session.execute(
        select(
            Order.created_at,
            Order.charge,
            Order.refunded,
            Order.cost,
            Order.status,
            Order.provider_id,
            Order.service_id,
            Service.name,
        )
        .join(Service, Service.id == Order.service_id)
        .where(Order.created_at >= since)
    )
    for created, charge, refunded, cost, status, provider_id, service_id, name in rows:
        day = by_day.get(created.date())
        if day is None:
            continue
        revenue = charge - (refunded or ZERO)
        day.orders += 1
        day.revenue += revenue
        rate = Decimal(1) if provider_id is None else rates.get(provider_id)
        if cost is not None and status not in NO_COST_STATUSES and rate is not None:
            day.cost += cost * rate
        service = services.setdefault(service_id, TopService(name))
        service.orders += 1
        service.revenue += revenue
    ranked = sorted(services.values(), key=lambda s: (s.revenue, s.orders), reverse=True)
    return Series([by_day[d] for d in sorted(by_day)], ranked[:top])
