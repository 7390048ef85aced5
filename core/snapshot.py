"""A per-process snapshot of something read from the database, stamped with the version of
what it holds (db.cache_versions): the chat's catalogue (core.catalog_cache) and the lanes'
routes (core.routing) are both one.

- a change committed by this process is seen by its next read (db.cache_versions counts
  them per database, in memory);
- a change committed by another replica raises the version in the database in the same
  transaction; each replica reads that number at most once per `check_every` seconds
  (CHECK_EVERY) and reloads when it moved. That is the staleness bound.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from db.cache_versions import VersionWatch

# Seconds a replica may hold a snapshot as it was before another replica's change: one
# indexed one-row read per interval, snapshot and replica, whatever the traffic.
CHECK_EVERY = 1.0


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


T = TypeVar("T", bound=Versioned)


class VersionedSnapshot(Generic[T]):
    """One per process and kind. Every read goes through `current`; `load(session, version)`
    builds the value (no ORM rows tied to a session) when the version moved."""

    def __init__(
        self,
        kind: str,
        load: Callable[[AsyncSession, int], Awaitable[T]],
        *,
        check_every: float = CHECK_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.watch = VersionWatch(kind, check_every=check_every, clock=clock)
        self.loads = 0  # how many times the value was read from the database
        self._load = load
        self._value: T | None = None
        self._lock = asyncio.Lock()

    async def current(self, session: AsyncSession) -> T:
        """The snapshot, reloaded first if this process or another replica changed it since
        it was loaded (another replica: seen within `check_every`)."""
        engine = session.get_bind()
        value = self._value
        if value is not None and not self.watch.due(engine):
            return value
        if session.in_transaction():
            # This session already holds a pooled connection: waiting for the lock here while
            # the lock's holder waits for a connection would deadlock a full pool (200 chats
            # at once), so it reads by itself.
            return await self._refresh(session, engine)
        async with self._lock:  # many callers at once: one of them reads, the rest reuse it
            return await self._refresh(session, engine)

    async def _refresh(self, session: AsyncSession, engine: Any) -> T:
        value = self._value
        if value is not None and not self.watch.due(engine):
            return value
        version = await self.watch.version(session)
        if value is None or value.version != version:
            value = await self._load(session, version)
            self.loads += 1
        self._value = value
        return value
