"""/stats: orders per status, revenue, provider cost and profit per period (SPEC §4).

Revenue is what customers paid for the period's orders, net of refunds (charge − refunded).
Provider cost is what providers billed for them (Order.cost, updated by status sync);
canceled and failed orders are left out because the provider gives that money back.
Costs are in each provider's currency: `mixed_currencies` tells when they differ from ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

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


async def period_stats(session: AsyncSession, period: str, since: datetime | None) -> PeriodStats:
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
    stats.cost = _money(
        await session.scalar(
            select(func.sum(Order.cost)).where(*where, Order.status.not_in(NO_COST_STATUSES))
        )
    )
    return stats


async def panel_stats(session: AsyncSession, now: datetime | None = None) -> list[PeriodStats]:
    """Today (since UTC midnight), the last 7 days, and all time."""
    now = now or utcnow()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return [
        await period_stats(session, "today", midnight),
        await period_stats(session, "week", now - timedelta(days=7)),
        await period_stats(session, "all", None),
    ]


async def mixed_currencies(session: AsyncSession, currency: str) -> list[str]:
    """Provider currencies different from the panel's (their costs are not comparable)."""
    rows = await session.scalars(select(func.distinct(Provider.currency)))
    return sorted(c for c in rows if c and c.upper() != currency.upper())
