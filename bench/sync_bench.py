"""Time status-sync cycles for many active orders against the fake provider over HTTP.

    python -m bench [--orders 2000] [--database URL] [--rps 5]

With a PostgreSQL URL a throwaway database is created next to the one named (and dropped
afterwards), so the bench never writes into an existing database.

Three cycles: every order moves (Pending → In progress: a history row and a notification
each), nothing moves (the steady state), every order finishes (half Partial with a refund,
half Completed). The provider's pacing (requests per second per provider, 5 by default as in
production) bounds the request phase; the rest is the database.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from core import billing
from core.status_sync import SyncReport, sync_order_statuses
from core.statuses import OrderStatus
from db.engine import create_engine, make_sessionmaker, write_tx
from db.migrate import upgrade
from db.models import Category, LedgerEntry, Order, Provider, Service, User
from providers import ProviderRegistry
from tests.fakes.provider_server import FakeProvider

CUSTOMER = 1
CHARGE = Decimal("2.00")


async def seed(url: str, fake: FakeProvider, count: int) -> list[str]:
    engine = create_engine(url)
    sm = make_sessionmaker(engine)
    remotes = []
    async with sm() as session, write_tx(session):
        session.add(User(id=CUSTOMER, first_name="Bench", language="en"))
        provider = Provider(name="bench", api_url=fake.url, api_key=fake.api_key)
        category = Category(name="Bench")
        session.add_all([provider, category])
        await session.flush()
        service = Service(
            category_id=category.id, name="Followers", price=CHARGE, min=1, max=10**6,
            mode="auto", provider_id=provider.id, provider_service_id="1",
        )  # fmt: skip
        session.add(service)
        await session.flush()
        await billing.credit(session, CUSTOMER, CHARGE * count, key="seed")
        for _ in range(count):
            remote = fake.create_order(1, quantity=1000)
            order = Order(
                user_id=CUSTOMER, service_id=service.id, provider_id=provider.id,
                provider_service_id="1", link="https://example.com/p", quantity=1000,
                charge=CHARGE, status=OrderStatus.PENDING, provider_order_id=remote,
            )  # fmt: skip
            session.add(order)
            await session.flush()
            await billing.debit(
                session, CUSTOMER, CHARGE, key=f"charge:{order.id}", order_id=order.id
            )
            remotes.append(remote)
    await engine.dispose()
    return remotes


async def timed_cycle(
    label: str, url: str, fake: FakeProvider, registry: ProviderRegistry, count: int
) -> SyncReport:
    engine = create_engine(url)
    sm = make_sessionmaker(engine)
    before = fake.count("status")
    started = time.perf_counter()
    report = await sync_order_statuses(sm, registry)
    elapsed = time.perf_counter() - started
    await engine.dispose()
    requests = fake.count("status") - before
    print(
        f"{label:<34} {elapsed:7.2f} s  {count / elapsed:8.0f} orders/s  "
        f"{requests:4d} requests  {report.changed:5d} changed"
    )
    return report


@asynccontextmanager
async def scratch_database(database: str | None) -> AsyncIterator[str]:
    """A new, migrated database: a temporary SQLite file, or a throwaway PostgreSQL one."""
    if database is None or make_url(database).get_backend_name() == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            await asyncio.to_thread(upgrade, url)
            yield url
        return
    import asyncpg

    admin = make_url(database).set(drivername="postgresql").render_as_string(False)
    name = f"bench_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = make_url(database).set(drivername="postgresql+asyncpg", database=name)
    try:
        await asyncio.to_thread(upgrade, url.render_as_string(False))
        yield url.render_as_string(False)
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def run(count: int, database: str | None, rps: float) -> None:
    async with scratch_database(database) as url, FakeProvider(api_key="bench-key") as fake:
        remotes = await seed(url, fake, count)
        print(f"{count} active orders, {url.split(':')[0]}, provider pacing {rps:g} req/s")
        registry = ProviderRegistry(requests_per_second=rps)
        try:
            steps: list[tuple[str, Callable[[int, str], None]]] = [
                ("cycle 1: all Pending → In progress",
                 lambda i, r: fake.set_status(r, "In progress", start_count=5)),
                ("cycle 2: nothing changed", lambda i, r: None),
                ("cycle 3: half Partial, half Completed",
                 lambda i, r: fake.set_status(
                     r, "Partial" if i % 2 else "Completed", remains=250 if i % 2 else 0)),
            ]  # fmt: skip
            for label, move in steps:
                for i, remote in enumerate(remotes):
                    move(i, remote)
                await timed_cycle(label, url, fake, registry, count)
        finally:
            await registry.close()
        await check(url, count)


async def check(url: str, count: int) -> None:
    engine = create_engine(url)
    async with make_sessionmaker(engine)() as session:
        refunds = await session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "refund")
        )
        balance = (await session.get(User, CUSTOMER)).balance  # type: ignore[union-attr]
    await engine.dispose()
    expected = CHARGE / 4 * (count // 2)
    status = "ok" if refunds == count // 2 and balance == expected else "MISMATCH"
    print(f"refunds: {refunds}, balance {balance} (expected {expected}): {status}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--database", help="a database URL (default: a temporary SQLite file)")
    parser.add_argument("--rps", type=float, default=5.0, help="provider requests per second")
    args = parser.parse_args(argv)
    asyncio.run(run(args.orders, args.database, args.rps))


if __name__ == "__main__":
    main()
