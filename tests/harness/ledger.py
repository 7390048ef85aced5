"""Money in tests: a customer credited through the real ledger, and a balance read back the
way every money test must, checked against the ledger."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import billing
from db.engine import write_tx
from db.models import User


async def give_money(
    sm: async_sessionmaker[AsyncSession],
    user_id: int,
    amount: str,
    *,
    first_name: str = "Alice",
    username: str | None = None,
) -> None:
    """Credit `amount` (a ledger row), registering the customer first if they are new."""
    async with sm() as session, write_tx(session):
        if await session.get(User, user_id) is None:
            session.add(User(id=user_id, first_name=first_name, username=username, language="en"))
            await session.flush()
        await billing.credit(session, user_id, Decimal(amount), key=f"seed:{user_id}:{amount}")


async def balance(sm: async_sessionmaker[AsyncSession], user_id: int) -> Decimal:
    """The user's balance, after asserting it equals the sum of their ledger rows."""
    async with sm() as session:
        user = await session.get(User, user_id)
        assert user is not None
        assert user.balance == await billing.ledger_sum(session, user_id)
        return user.balance
