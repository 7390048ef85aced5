"""Shared fixtures: real databases, the real app with a recording Bot session, chats."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

if TYPE_CHECKING:
    from bot.app import App
from db.engine import create_engine, make_sessionmaker
from tests.harness.databases import BACKENDS, fresh_database
from tests.harness.dispatcher import TgChat


@pytest.fixture
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A migrated SQLite file (the embedded default); a test that must hold on both databases
    says so with ``@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)``."""
    async with fresh_database(getattr(request, "param", "sqlite"), tmp_path) as url:
        yield url


@pytest.fixture(params=BACKENDS)
async def any_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The same test on SQLite and on PostgreSQL (when available)."""
    async with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[App]:
    """The real app (dispatcher, routers, middlewares) with a Bot that records its calls."""
    from tests.harness.apps import recording_app

    app = await recording_app(database_url)
    yield app
    await app.close()


@pytest.fixture
async def replicas(any_database_url: str) -> AsyncIterator[tuple[App, App]]:
    """Two such apps on one database (two replicas), on SQLite and on PostgreSQL."""
    from tests.harness.apps import replicas

    async with replicas(any_database_url) as apps:
        yield apps


@pytest.fixture
def chat(app: App) -> Callable[..., TgChat]:
    """`chat(user_id=..)` -> a private chat with that user, driven through dp.feed_update."""
    from tests.harness.apps import chat_on

    return partial(chat_on, app)
