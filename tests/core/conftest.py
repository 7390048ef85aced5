"""A seeded panel for the core tests: a customer with money, a provider at FakeProvider."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import billing
from db.engine import create_engine, make_sessionmaker, write_tx
from db.models import User
from providers import ProviderRegistry
from tests.fakes.provider_server import FakeProvider
from tests.harness import seed

CUSTOMER = 1001
ADMINS = frozenset({9001})


@dataclass
class Panel:
    sm: async_sessionmaker[AsyncSession]
    registry: ProviderRegistry
    fake: FakeProvider
    provider_id: int
    service_id: int

    async def balance(self, user_id: int = CUSTOMER) -> Decimal:
        async with self.sm() as session:
            user = await session.get(User, user_id)
            assert user is not None
            assert user.balance == await billing.ledger_sum(session, user_id)
            return user.balance


async def seed_panel(url: str, fake: FakeProvider, registry: ProviderRegistry) -> Panel:
    engine = create_engine(url)
    sm = make_sessionmaker(engine)
    async with sm() as session, write_tx(session):
        session.add(User(id=CUSTOMER, first_name="Alice", language="en"))
        provider, service = await seed.provider_catalog(session, fake.url, fake.api_key)
        await billing.credit(session, CUSTOMER, Decimal("10"), key="seed")
    return Panel(sm, registry, fake, provider.id, service.id)


@pytest.fixture
async def panel(any_database_url: str) -> AsyncIterator[Panel]:
    async with FakeProvider(api_key="core-key", timeout_sleep=3) as fake:
        registry = ProviderRegistry(
            read_timeout=0.5, connect_timeout=0.5, read_retries=0, requests_per_second=1000
        )
        panel = await seed_panel(any_database_url, fake, registry)
        yield panel
        await registry.close()
        await panel.sm.kw["bind"].dispose()
