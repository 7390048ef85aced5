"""A claim as a process makes it, for tests that play a process claiming rows and then
dying (or sending them by hand): the rows alone, of one kind."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler.outbox import LEASE, Outgoing, claim


async def claim_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    limit: int = 100,
    per_chat: int = 5,
    lease: timedelta = LEASE,
    broadcasts: bool = False,
) -> list[Outgoing]:
    """The rows one claim takes: due notifications, or (broadcasts=True) broadcast rows."""
    if broadcasts:
        taken = await claim(sessionmaker, limit=0, lease=lease, broadcast_limit=limit)
        return taken.broadcast_rows
    return (await claim(sessionmaker, limit=limit, per_chat=per_chat, lease=lease)).rows
