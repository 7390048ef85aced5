"""Cross-replica locks for background work (SPEC §8), held by one database transaction.

PostgreSQL: transaction-level advisory locks, released at commit or rollback, so a lock can
never stay behind on a pooled connection. SQLite serves one process, and its write
transactions (BEGIN IMMEDIATE) are serialised anyway: there the lock is always granted.
"""

from __future__ import annotations

import zlib

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


def lock_key(name: str) -> int:
    """A stable signed 32-bit key for a lock name."""
    return zlib.crc32(name.encode()) - 2**31


async def job_lock(session: AsyncSession, name: str, *, wait: bool = False) -> bool:
    """Take the lock `name` for the rest of the session's transaction.

    wait=False: False at once if another replica holds it (skip the work this time).
    wait=True: wait for it (for short critical sections such as claiming rows).
    """
    if session.get_bind().dialect.name != "postgresql":
        return True
    if wait:
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(name)})
        return True
    query = text("SELECT pg_try_advisory_xact_lock(:k)")
    return bool(await session.scalar(query, {"k": lock_key(name)}))
