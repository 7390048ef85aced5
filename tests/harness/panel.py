"""A seeded panel for the core and scheduler tests: Alice with money, a provider at a
FakeProvider with one auto service mapped to it, and ways to look at what happened."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core import billing
from core.statuses import LedgerKind, OrderStatus
from db.engine import create_engine, make_sessionmaker, write_tx
from db.models import LedgerEntry, Notification, Order, OrderStatusChange, User
from providers import ProviderRegistry
from tests.fakes.provider_server import FakeProvider
from tests.harness import ledger, seed
from tests.harness.settings import CUSTOMER

CHARGE = Decimal("2.00")  # per 1000 units, Instagram Followers at the fake (rate 0.90)


def fast_registry(timeout: float = 1.0) -> ProviderRegistry:
    return ProviderRegistry(
        read_timeout=timeout, connect_timeout=timeout, read_retries=0, requests_per_second=1000
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
    provider_timeout: float = 1.0  # the registry's connect and read timeouts
    opened: list[tuple[AsyncEngine, ProviderRegistry]] = field(default_factory=list)

    def reopen(self) -> Panel:
        """The same database and provider as a freshly started process sees them."""
        engine = create_engine(self.url)
        registry = fast_registry(self.provider_timeout)
        self.opened.append((engine, registry))
        return Panel(
            self.url,
            engine,
            make_sessionmaker(engine),
            registry,
            self.fake,
            self.provider_id,
            self.service_id,
            self.provider_timeout,
            self.opened,
        )

    async def close(self) -> None:
        for engine, registry in [(self.engine, self.registry), *self.opened]:
            await registry.close()
            await engine.dispose()

    async def balance(self, user_id: int = CUSTOMER) -> Decimal:
        return await ledger.balance(self.sm, user_id)

    async def orders(self) -> dict[int, Order]:
        async with self.sm() as session:
            rows = await session.scalars(select(Order).order_by(Order.id))
            return {o.id: o for o in rows}

    async def refunds(self) -> dict[int, list[Decimal]]:
        """Refund ledger amounts per order."""
        async with self.sm() as session:
            rows = await session.execute(
                select(LedgerEntry.order_id, LedgerEntry.amount).where(
                    LedgerEntry.kind == LedgerKind.REFUND
                )
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


async def seed_panel(
    url: str,
    fake: FakeProvider,
    *,
    money: Decimal = Decimal("100000"),
    provider_timeout: float = 1.0,
) -> Panel:
    """Alice with `money`, the fake's service "1" sold at CHARGE per 1000."""
    engine = create_engine(url)
    sm = make_sessionmaker(engine)
    async with sm() as session, write_tx(session):
        session.add(User(id=CUSTOMER, first_name="Alice", language="en"))
        provider, service = await seed.provider_catalog(
            session, fake.url, fake.api_key, price=CHARGE
        )
        await billing.credit(session, CUSTOMER, money, key="seed")
    registry = fast_registry(provider_timeout)
    return Panel(url, engine, sm, registry, fake, provider.id, service.id, provider_timeout)
