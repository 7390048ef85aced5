"""/stats: orders per status, revenue, provider cost and profit per period (SPEC §4).

Revenue is what customers paid for the period's orders, net of refunds (charge − refunded).
Provider cost is what providers billed for them (Order.cost, updated by status sync), in the
panel's currency: a provider billing in another currency has its costs converted with its
rate (/providerset NAME fx RATE, core.fx); costs of a provider without a rate stay out of
the cost and are counted in `unconverted` instead of being added as if in our currency.
Canceled and failed orders are left out because the provider gives that money back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import fx
from core.money import ZERO, money
from core.statuses import OrderStatus
from db.models import Order, Provider
from db.types import utcnow

NO_COST_STATUSES = (OrderStatus.CANCELED, OrderStatus.FAILED)


@dataclass
class PeriodStats:
    period: str  # today | week | all
    since: datetime | None = None
    counts: dict[str, int] = field(default_factory=dict)
    charges: Decimal = ZERO
    refunds: Decimal = ZERO
    cost: Decimal = ZERO
    unconverted: int = 0  # orders with a cost from a provider whose rate is missing

    @property
    def orders(self) -> int:
        return sum(self.counts.values())

    @property
    def revenue(self) -> Decimal:
        return self.charges - self.refunds

    @property
    def profit(self) -> Decimal:
        return self.revenue - self.cost


def _money(value: object) -> Decimal:
    return money(value) if value is not None else ZERO  # type: ignore[arg-type]


async def period_stats(
    session: AsyncSession, period: str, since: datetime | None, currency: str
) -> PeriodStats:
    where = [] if since is None else [Order.created_at >= since]
    stats = PeriodStats(period, since)
    rows = await session.execute(
        select(Order.status, func.count()).where(*where).group_by(Order.status)
    )
    stats.counts = {status: count for status, count in rows}
    charges, refunds = (
        await session.execute(
            select(func.sum(Order.charge), func.sum(Order.refunded)).where(*where)
        )
    ).one()
    stats.charges, stats.refunds = _money(charges), _money(refunds)
    costs = await session.execute(
        select(Provider, func.sum(Order.cost), func.count())
        .outerjoin(Provider, Provider.id == Order.provider_id)
        .where(*where, Order.cost.is_not(None), Order.status.not_in(NO_COST_STATUSES))
        .group_by(Provider.id)
    )
    for provider, total, count in costs:
        converted = (
            _money(total) if provider is None else fx.to_panel(_money(total), provider, currency)
        )
        if converted is None:
            stats.unconverted += count
        else:
            stats.cost += converted
    return stats


async def panel_stats(
    session: AsyncSession, currency: str, now: datetime | None = None
) -> list[PeriodStats]:
    """Today (since UTC midnight), the last 7 days, and all time."""
    now = now or utcnow()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return [
        await period_stats(session, "today", midnight, currency),
        await period_stats(session, "week", now - timedelta(days=7), currency),
        await period_stats(session, "all", None, currency),
    ]


async def providers_without_rate(session: AsyncSession, currency: str) -> list[Provider]:
    """Providers billing in another currency with no conversion rate set."""
    rows = await session.scalars(select(Provider).order_by(Provider.name))
    return [p for p in rows if fx.rate_missing(p, currency)]
