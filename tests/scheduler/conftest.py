"""A seeded panel for the scheduler tests: customers with money, a provider at FakeProvider,
orders already at the provider, and helpers to look at what customers were told."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core import billing
from core.statuses import OrderStatus
from db.engine import create_engine, make_sessionmaker, write_tx
from db.models import (
    LedgerEntry,
    Notification,
    Order,
    OrderStatusChange,
    User,
)
from providers import ProviderRegistry
from tests.fakes.provider_server import FakeProvider
from tests.harness import seed

CUSTOMER = 1001
ADMINS = frozenset({9001})
CHARGE = Decimal("2.00")  # per 1000 units, Instagram Followers at the fake (rate 0.90)


def fast_registry() -> ProviderRegistry:
    return ProviderRegistry(
        read_timeout=1, connect_timeout=1, read_retries=0, requests_per_second=1000
    )


@dataclass
class Panel:
    url: str
    engine: AsyncEngine
    sm: async_sessionmaker[AsyncSession]
    registry: ProviderRegistry
    fake: FakeProvider
    provider_id: int
    service_id: int
    opened: list[tuple[AsyncEngine, ProviderRegistry]] = field(default_factory=list)

    def reopen(self) -> Panel:
        """The same database and provider as a freshly started process sees them."""
        engine = create_engine(self.url)
        registry = fast_registry()
        self.opened.append((engine, registry))
        return Panel(
            self.url,
            engine,
            make_sessionmaker(engine),
            registry,
            self.fake,
            self.provider_id,
            self.service_id,
            self.opened,
        )

    async def close(self) -> None:
        for engine, registry in [(self.engine, self.registry), *self.opened]:
            await registry.close()
            await engine.dispose()

    async def balance(self, user_id: int = CUSTOMER) -> Decimal:
        async with self.sm() as session:
            user = await session.get(User, user_id)
            assert user is not None
            assert user.balance == await billing.ledger_sum(session, user_id)
            return user.balance

    async def orders(self) -> dict[int, Order]:
        async with self.sm() as session:
            rows = await session.scalars(select(Order).order_by(Order.id))
            return {o.id: o for o in rows}

    async def refunds(self) -> dict[int, list[Decimal]]:
        """Refund ledger amounts per order."""
        async with self.sm() as session:
            rows = await session.execute(
                select(LedgerEntry.order_id, LedgerEntry.amount).where(LedgerEntry.kind == "refund")
            )
            found: dict[int, list[Decimal]] = {}
            for order_id, amount in rows:
                found.setdefault(order_id, []).append(amount)
            return found

    async def notifications(self, **where: Any) -> list[Notification]:
        async with self.sm() as session:
            query = select(Notification).order_by(Notification.id)
            for key, value in where.items():
                query = query.where(getattr(Notification, key) == value)
            return list(await session.scalars(query))

    async def history_count(self) -> int:
        async with self.sm() as session:
            return await session.scalar(select(func.count()).select_from(OrderStatusChange)) or 0

    async def add_orders(
        self,
        count: int,
        *,
        user_id: int = CUSTOMER,
        quantity: int = 1000,
        status: str = OrderStatus.PENDING,
        remote_status: str = "Pending",
    ) -> list[tuple[int, str]]:
        """Charged orders already accepted by the provider: [(order id, provider order id)]."""
        created = []
        async with self.sm() as session, write_tx(session):
            for _ in range(count):
                remote = self.fake.create_order(1, quantity=quantity, status=remote_status)
                order = Order(
                    user_id=user_id,
                    service_id=self.service_id,
                    provider_id=self.provider_id,
                    provider_service_id="1",
                    link="https://instagram.com/alice",
                    quantity=quantity,
                    charge=CHARGE * quantity / 1000,
                    status=status,
                    provider_order_id=remote,
                )
                session.add(order)
                await session.flush()
                await billing.debit(
                    session, user_id, order.charge, key=f"charge:{order.id}", order_id=order.id
                )
                session.add(OrderStatusChange(order_id=order.id, new_status=status))
                created.append((order.id, remote))
        return created


async def seed_panel(url: str, fake: FakeProvider, *, money: Decimal = Decimal("100000")) -> Panel:
    engine = create_engine(url)
    sm = make_sessionmaker(engine)
    async with sm() as session, write_tx(session):
        session.add(User(id=CUSTOMER, first_name="Alice", language="en"))
        provider, service = await seed.provider_catalog(
            session, fake.url, fake.api_key, price=CHARGE
        )
        await billing.credit(session, CUSTOMER, money, key="seed")
    return Panel(url, engine, sm, fast_registry(), fake, provider.id, service.id)


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
