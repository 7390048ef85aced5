"""What the admin screens read: a customer's record, the review queue, provider errors.

Read-only look-ups; the screens in handlers.admin render them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from db.models import Order, Provider, ProviderFailure, User


async def fresh_user(session: AsyncSession, user_id: int) -> User | None:
    """The user as stored now (not as this session cached it earlier)."""
    return await session.get(User, user_id, populate_existing=True)


async def order_counts(session: AsyncSession, user_id: int) -> dict[str, int]:
    """How many orders a customer has in each status."""
    rows = await session.execute(
        select(Order.status, func.count()).where(Order.user_id == user_id).group_by(Order.status)
    )
    return {status: count for status, count in rows.all()}


async def last_orders(session: AsyncSession, user_id: int, limit: int) -> list[Order]:
    """A customer's newest orders, with their services."""
    rows = await session.scalars(
        select(Order)
        .where(Order.user_id == user_id)
        .options(selectinload(Order.service))
        .order_by(Order.id.desc())
        .limit(limit)
    )
    return list(rows)


async def orders_in(
    session: AsyncSession, statuses: Sequence[str], *, page: int, per_page: int
) -> tuple[list[Order], int]:
    """One page of the orders in `statuses` (oldest first, with services) and their total;
    a page past the end is the last one."""
    where = Order.status.in_(list(statuses))
    total = await session.scalar(select(func.count()).select_from(Order).where(where)) or 0
    if not total:
        return [], 0
    page = min(page, (total + per_page - 1) // per_page - 1)
    rows = await session.scalars(
        select(Order)
        .where(where)
        .options(selectinload(Order.service))
        .order_by(Order.id)
        .offset(page * per_page)
        .limit(per_page)
    )
    return list(rows), total


async def recent_provider_errors(
    session: AsyncSession, *, provider_id: int | None = None, limit: int
) -> list[tuple[ProviderFailure, str]]:
    """The newest recorded provider errors with the provider's name, of one provider or all."""
    stmt = (
        select(ProviderFailure, Provider.name)
        .join(Provider, Provider.id == ProviderFailure.provider_id)
        .order_by(ProviderFailure.id.desc())
        .limit(limit)
    )
    if provider_id is not None:
        stmt = stmt.where(ProviderFailure.provider_id == provider_id)
    return [(error, name) for error, name in (await session.execute(stmt)).all()]
