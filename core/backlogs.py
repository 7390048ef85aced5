"""The work waiting, counted in one statement: what a metrics scrape reports as backlogs.

Each count runs on an index (notifications by status, orders by status), so a scrape costs
one short read however busy the panel is.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.statuses import ACTIVE_STATUSES, OrderStatus
from db.models import Notification, Order


@dataclass(frozen=True)
class Backlogs:
    outbox: int  # notifications not sent yet (order updates, receipts, alerts)
    broadcast: int  # broadcast messages not sent yet (they go after the others)
    queued: int  # orders waiting for their provider
    review: int  # orders waiting for an admin
    syncing: int  # active orders the status sync follows


async def backlogs(session: AsyncSession) -> Backlogs:
    def count(*where: object) -> object:
        return select(func.count()).where(*where).scalar_subquery()

    row = (
        await session.execute(
            select(
                count(Notification.status == "pending", Notification.broadcast_id.is_(None)),
                count(Notification.status == "pending", Notification.broadcast_id.is_not(None)),
                count(Order.status == OrderStatus.QUEUED),
                count(Order.status == OrderStatus.REVIEW),
                count(
                    Order.status.in_(list(ACTIVE_STATUSES)), Order.provider_order_id.is_not(None)
                ),
            )
        )
    ).one()
    return Backlogs(*(int(n or 0) for n in row))
