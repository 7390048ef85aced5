"""status_sync: status-sync cycles over many active orders; peak RSS of the process.

Runs in a child process of ``python -m bench`` (``python -m bench.status_sync N``), so its
peak RSS is the memory figure of a bot process (the whole app imported) holding N orders
after its sync cycles. The provider (bench.fake_provider, another process) answers at once
and the pacing is lifted, so the times are ours. Three cycles: every order moves (Pending →
In progress: a history row and a notification each), nothing moves (the steady state),
every order finishes (half Partial with a refund, half Completed). Each cycle's wall time
comes with the CPU time this process spent in it (every thread: SQLite works in one), the
figure to compare on a shared machine; the fake provider's own CPU is not in it.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select

import bot.app  # noqa: F401  (the whole bot in memory, as in production)
from bench.common import ProviderProcess, peak_rss_mb, scratch_database
from core.status_sync import sync_order_statuses
from core.statuses import LedgerKind, OrderStatus
from db.engine import create_engine, make_sessionmaker, write_tx
from db.models import Category, LedgerEntry, Order, Provider, Service, User
from providers import ProviderRegistry

CUSTOMER = 1
CHARGE = Decimal("2.00")
BATCH = 5000
UNPACED = {"requests_per_second": 1e6, "max_concurrency": 16}


async def seed(url: str, provider_url: str, api_key: str, count: int) -> None:
    """count Pending orders with their charges, inserted in bulk (the seed is not timed)."""
    engine = create_engine(url)
    sm = make_sessionmaker(engine)
    async with sm() as session, write_tx(session):
        session.add(User(id=CUSTOMER, first_name="Bench", language="en", balance=Decimal(0)))
        provider = Provider(name="bench", api_url=provider_url, api_key=api_key)
        category = Category(name="Bench")
        session.add_all([provider, category])
        await session.flush()
        service = Service(
            category_id=category.id, name="Followers", price=CHARGE, min=1, max=10**6,
            mode="auto", provider_id=provider.id, provider_service_id="1",
        )  # fmt: skip
        session.add(service)
        await session.flush()
        total = CHARGE * count
        await session.execute(
            insert(LedgerEntry).values(
                user_id=CUSTOMER, kind=LedgerKind.TOPUP, amount=total, balance_after=total,
                idempotency_key="seed",
            )
        )  # fmt: skip
        provider_id, service_id = provider.id, service.id
    for start in range(1, count + 1, BATCH):
        ids = range(start, min(count, start + BATCH - 1) + 1)
        async with sm() as session, write_tx(session):
            await session.execute(
                insert(Order),
                [
                    {
                        "id": i, "user_id": CUSTOMER, "service_id": service_id,
                        "provider_id": provider_id, "provider_service_id": "1",
                        "link": "https://example.com/p", "quantity": 1000, "charge": CHARGE,
                        "status": OrderStatus.PENDING, "provider_order_id": str(i),
                    }
                    for i in ids
                ],
            )  # fmt: skip
            await session.execute(
                insert(LedgerEntry),
                [
                    {
                        "user_id": CUSTOMER, "kind": LedgerKind.ORDER_CHARGE, "amount": -CHARGE,
                        "balance_after": total - CHARGE * i, "order_id": i,
                        "idempotency_key": f"charge:{i}",
                    }
                    for i in ids
                ],
            )  # fmt: skip
    await engine.dispose()


async def seed_in_child(url: str, provider_url: str, api_key: str, count: int) -> None:
    """`seed` in another process: the bot whose memory is measured holds the orders in its
    database but did not insert them (the bulk insert's buffers, ~15 MB at 100,000 orders,
    stayed in this process's peak RSS)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.status_sync", "seed", url, provider_url, api_key, str(count)
    )
    if await process.wait() != 0:
        raise RuntimeError(f"seeding {count} orders failed (exit {process.returncode})")


async def cycle(url: str, registry: ProviderRegistry) -> tuple[float, float, int]:
    """One status-sync cycle: (wall seconds, CPU seconds of this process, orders moved)."""
    engine = create_engine(url)
    started, cpu = time.perf_counter(), time.process_time()
    report = await sync_order_statuses(make_sessionmaker(engine), registry)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    await engine.dispose()
    return round(elapsed, 2), round(cpu, 2), report.changed


async def refunds_ok(url: str, count: int) -> bool:
    engine = create_engine(url)
    async with make_sessionmaker(engine)() as session:
        refunds = await session.scalar(
            select(func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.kind == LedgerKind.REFUND)
        )
        balance = await session.scalar(select(User.balance).where(User.id == CUSTOMER))
    await engine.dispose()
    return refunds == (count + 1) // 2 and balance == CHARGE / 4 * ((count + 1) // 2)


async def run(count: int, database: str | None) -> dict[str, Any]:
    async with scratch_database(database) as url, ProviderProcess() as provider:
        await provider.control(seed=count)
        await seed_in_child(url, provider.url, provider.api_key, count)
        figures: dict[str, Any] = {"orders": count}
        async with ProviderRegistry(**UNPACED) as registry:
            for name, phase in (("moved", "progress"), ("unchanged", "progress"),
                                ("finished", "finish")):  # fmt: skip
                await provider.control(phase=phase)
                seconds, cpu, changed = await cycle(url, registry)
                figures[f"{name}_s"] = seconds
                figures[f"{name}_cpu_s"] = cpu
                figures[f"{name}_changed"] = changed
        figures["refunds_exactly_once"] = await refunds_ok(url, count)
    figures["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return figures


async def in_child(count: int, database: str | None) -> dict[str, Any]:
    """Runs `run` in a fresh process (its own peak RSS) and returns its figures."""
    args = [sys.executable, "-m", "bench.status_sync", str(count)]
    if database:
        args.append(database)
    process = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE)
    out, _ = await process.communicate()
    lines = out.decode().strip().splitlines()
    if process.returncode != 0 or not lines:
        return {"orders": count, "error": f"exit {process.returncode}"}
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def print_sync(figures: dict[str, Any]) -> None:
    if "error" in figures:
        print(f"status_sync {figures['orders']}: failed ({figures['error']})")
        return

    def timed(name: str) -> str:
        return f"{figures[f'{name}_s']:.2f} s ({figures[f'{name}_cpu_s']:.2f} s CPU)"

    print(
        f"status_sync {figures['orders']:>7} active orders: all moved {timed('moved')}"
        f", nothing changed {timed('unchanged')}, all finished (half Partial) "
        f"{timed('finished')}; refunds exactly once: "
        f"{figures['refunds_exactly_once']}; peak RSS {figures['peak_rss_mb']} MB"
    )


if __name__ == "__main__":
    if sys.argv[1] == "seed":  # seed_in_child
        url, provider_url, api_key, count = sys.argv[2:6]
        asyncio.run(seed(url, provider_url, api_key, int(count)))
    else:
        result = asyncio.run(run(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None))
        print(json.dumps(result))
