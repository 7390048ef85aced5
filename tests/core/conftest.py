"""The core tests' panel: Alice with 10.00, a provider at a FakeProvider, on every database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from tests.fakes.provider_server import FakeProvider
from tests.harness.panel import Panel, seed_panel


@pytest.fixture
async def panel(any_database_url: str) -> AsyncIterator[Panel]:
    async with FakeProvider(api_key="core-key", timeout_sleep=3) as fake:
        panel = await seed_panel(any_database_url, fake, money=Decimal("10"), provider_timeout=0.5)
        yield panel
        await panel.close()
