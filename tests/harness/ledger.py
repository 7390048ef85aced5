"""Reading a balance the way every money test must: checked against the ledger."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import billing
from db.models import User


async def balance(sm: async_sessionmaker[AsyncSession], user_id: int) -> Decimal:
    """The user's balance, after asserting it equals the sum of their ledger rows."""
    async with sm() as session:
        user = await session.get(User, user_id)
        assert user is not None
        assert user.balance == await billing.ledger_sum(session, user_id)
        return user.balance
