"""The scheduler tests' panel: Alice with plenty of money, a provider at a FakeProvider."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.provider_server import FakeProvider
from tests.harness.panel import Panel, seed_panel


@pytest.fixture
async def fake_provider() -> AsyncIterator[FakeProvider]:
    async with FakeProvider(api_key="sched-key", timeout_sleep=3) as fake:
        yield fake


@pytest.fixture
async def panel(database_url: str, fake_provider: FakeProvider) -> AsyncIterator[Panel]:
    """SQLite only: most scheduler behaviour does not depend on the database."""
    panel = await seed_panel(database_url, fake_provider)
    yield panel
    await panel.close()


@pytest.fixture
async def any_panel(any_database_url: str, fake_provider: FakeProvider) -> AsyncIterator[Panel]:
    """The same panel on SQLite and on PostgreSQL (when TEST_POSTGRES_URL is set)."""
    panel = await seed_panel(any_database_url, fake_provider)
    yield panel
    await panel.close()
