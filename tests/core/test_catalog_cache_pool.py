"""The catalogue snapshots (the chat's catalogue, the lanes' routes) never deadlock a full
connection pool (many chats or lane workers at once)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from core.catalog_cache import CatalogCache
from core.routing import RouteCache
from db.engine import create_engine, make_sessionmaker
from tests.harness.databases import fresh_database


@pytest.mark.parametrize("snapshot", [CatalogCache, RouteCache])
async def test_a_session_holding_a_connection_never_waits_for_a_refresh_that_needs_one(
    tmp_path: Path, snapshot: type[CatalogCache] | type[RouteCache]
) -> None:
    """One connection in the pool: a chat whose session holds it asks the cache while another
    chat's refresh (holding the cache's lock) waits for that very connection."""
    async with fresh_database("sqlite", tmp_path) as url:
        engine = create_engine(url, pool_size=1, max_overflow=0, pool_timeout=5)
        sessions = make_sessionmaker(engine)
        cache = snapshot()
        try:
            async with sessions() as holding, sessions() as fresh:
                await holding.execute(text("SELECT 1"))  # takes the pool's only connection
                refresh = asyncio.create_task(cache.current(fresh))  # takes the lock, waits
                await asyncio.sleep(0.2)
                assert not refresh.done()
                catalog = await asyncio.wait_for(cache.current(holding), 10)
                await holding.close()  # gives the connection back: the other refresh goes on
                assert (await asyncio.wait_for(refresh, 10)).version == catalog.version
        finally:
            await engine.dispose()
