"""`kill -9` of the real `python -m bot` at the four dangerous points, then a restart:
nothing lost, nothing doubled.

1. after the debit, before the provider processed the add;
2. after the provider created the order, before its answer was stored;
3. while a status chunk is being fetched (its refund not yet applied);
4. while a notification is being sent.

The provider and Telegram are fakes over loopback HTTP that can hold a request; the process
is killed while it waits for one, so the point of death is certain, not a matter of timing.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from core import notify
from db.engine import create_engine, make_sessionmaker, write_tx
from db.models import LedgerEntry, Notification, Order
from tests.e2e.test_bot_process import start_bot
from tests.fakes.provider_server import FakeProvider
from tests.fakes.telegram_server import FakeTelegram
from tests.fakes.telegram_user import FakeUser
from tests.harness import ledger, seed
from tests.harness.ledger import give_money

ALICE = 1001
WAIT = 60.0  # a busy machine runs several of these processes at once


class Panel:
    """The bot's database (migrated), seeded before the first start: a provider, a service,
    Alice with 10.00; and what the tests read back from it."""

    def __init__(self, tmp_path: Path, url: str, tg: FakeTelegram, provider: FakeProvider) -> None:
        self.tmp_path, self.tg, self.provider = tmp_path, tg, provider
        self.url = url
        self.engine = create_engine(self.url)
        self.sm = make_sessionmaker(self.engine)
        self.logs: list[Path] = []

    async def seed(self) -> None:
        async with self.sm() as session, write_tx(session):
            await seed.provider_catalog(session, self.provider.url, self.provider.api_key)
        await give_money(self.sm, ALICE, "10")

    @asynccontextmanager
    async def running(self) -> AsyncIterator[asyncio.subprocess.Process]:
        log = self.tmp_path / f"bot-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as output:
            process = await start_bot(
                self.tmp_path,
                self.tg,
                output=output,
                DATABASE_URL=self.url,
                SUBMIT_INTERVAL_SECONDS="1",
                STATUS_SYNC_SECONDS="1",
            )
            try:
                await self.tg.wait_polling(timeout=90)
                yield process
            finally:
                if process.returncode is None:
                    process.kill()
                await process.wait()

    async def kill_when(self, process: Any, condition: Callable[[], bool]) -> None:
        """kill -9 the moment `condition` holds (the process is then waiting at the point)."""
        await until(condition)
        process.kill()
        await process.wait()
        assert process.returncode == -9

    async def orders(self) -> list[Order]:
        async with self.sm() as session:
            return list(await session.scalars(select(Order).order_by(Order.id)))

    async def statuses_are(self, *statuses: str) -> bool:
        return [o.status for o in await self.orders()] == list(statuses)

    async def balance(self) -> Decimal:
        return await ledger.balance(self.sm, ALICE)  # asserts balance == sum of the ledger

    async def ledger_rows(self, kind: str) -> int:
        async with self.sm() as session:
            query = select(func.count()).where(LedgerEntry.kind == kind)
            return await session.scalar(query.select_from(LedgerEntry)) or 0

    async def close(self) -> None:
        await ledger.balance(self.sm, ALICE)  # asserts balance == sum of the ledger
        await self.engine.dispose()


async def until(
    condition: Callable[[], bool | Awaitable[bool]],
    timeout: float = WAIT,  # noqa: ASYNC109
    *,
    what: str = "the process never reached the point",
) -> None:
    """Wait for `condition` (plain, or one that reads the database) to hold."""
    for _ in range(int(timeout * 10)):
        met = condition()
        if inspect.isawaitable(met):
            met = await met
        if met:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(what)


async def order_followers(alice: FakeUser, *, answered: bool = True) -> None:
    await alice.send("/neworder")
    await alice.press("Instagram", timeout=WAIT)
    await alice.press("Instagram Followers", timeout=WAIT)
    await alice.wait_message("Service ID", timeout=WAIT)
    await alice.send("https://instagram.com/alice")
    await alice.wait_message("How many?", timeout=WAIT)
    await alice.send("1000")
    await alice.wait_message("Please check your order", timeout=WAIT)
    await alice.press("✅ Confirm", timeout=WAIT)
    if answered:
        await alice.wait_message("placed", timeout=WAIT)


async def sent_after_restart(p: Panel, alice: FakeUser) -> None:
    """A second order goes through the restarted process's submitter: its rounds ran (so an
    order they would resend would have been resent by now) and sent only the new one."""
    await order_followers(alice)
    await until(lambda: p.statuses_are("review", "pending"), what="no add after the restart")


@asynccontextmanager
async def panel(tmp_path: Path, url: str, **provider_options: Any) -> AsyncIterator[Panel]:
    async with (
        FakeTelegram() as tg,
        FakeProvider(api_key="kill9-provider-key", **provider_options) as provider,
    ):
        seeded = Panel(tmp_path, url, tg, provider)
        await seeded.seed()
        try:
            yield seeded
        finally:
            await seeded.close()


async def test_killed_after_the_debit_before_the_provider_took_the_add(
    tmp_path: Path, any_database_url: str
) -> None:
    async with panel(tmp_path, any_database_url) as p:
        alice = p.tg.user(ALICE, "Alice")
        p.provider.hold("add")
        async with p.running() as bot:
            await order_followers(alice, answered=False)  # the confirm waits for the add
            await p.kill_when(bot, lambda: p.provider.held("add") == 1)
        p.provider.release("add")  # its client is gone: the provider never processed it
        async with p.running():
            await alice.wait_message("Awaiting review", timeout=WAIT)
            await sent_after_restart(p, alice)
        [order, _] = await p.orders()
        assert order.status == "review" and order.provider_order_id is None
        assert len(p.provider.orders) == 1 and p.provider.count("add") == 2  # the second's
        assert await p.balance() == Decimal("6.00")  # each charged once, kept for the admin
        assert await p.ledger_rows("order_charge") == 2


async def test_killed_after_the_provider_created_the_order_before_its_answer_was_stored(
    tmp_path: Path, any_database_url: str
) -> None:
    async with panel(tmp_path, any_database_url, timeout_sleep=120) as p:
        alice = p.tg.user(ALICE, "Alice")
        p.provider.set_fault("add", "timeout", times=1)  # created, then no answer for 120 s
        async with p.running() as bot:
            await order_followers(alice, answered=False)
            await p.kill_when(bot, lambda: len(p.provider.orders) == 1)
        async with p.running():
            await alice.wait_message("Awaiting review", timeout=WAIT)
            await sent_after_restart(p, alice)
        [order, _] = await p.orders()
        assert order.status == "review"  # the provider has it: never sent a second time
        assert p.provider.count("add") == 2 and len(p.provider.orders) == 2  # + the second
        assert await p.balance() == Decimal("6.00")


async def test_killed_while_a_status_chunk_is_fetched_refunds_exactly_once(
    tmp_path: Path, any_database_url: str
) -> None:
    async with panel(tmp_path, any_database_url) as p:
        alice = p.tg.user(ALICE, "Alice")
        async with p.running():
            await order_followers(alice)
            await until(lambda: p.provider.count("add") == 1)
            await until(lambda: p.statuses_are("pending"), what="the order never got pending")
        [remote] = p.provider.orders
        p.provider.set_status(remote, "Canceled")
        p.provider.hold("status")
        async with p.running() as bot:
            await p.kill_when(bot, lambda: p.provider.held("status") >= 1)
        p.provider.release("status")
        async with p.running():
            await alice.wait_message("Cancelled", timeout=WAIT)
            # more status rounds run (they poll a second order): the refund is not repeated
            await order_followers(alice)
            await until(lambda: p.statuses_are("canceled", "pending"), what="no second order")
            polled = p.provider.count("status")
            await until(lambda: p.provider.count("status") >= polled + 2, what="no more rounds")
        [order, _] = await p.orders()
        assert order.status == "canceled" and order.refunded == Decimal("2.00")
        assert await p.ledger_rows("refund") == 1
        assert await p.balance() == Decimal("8.00")  # refunded once; the second charged


async def test_killed_while_sending_a_notification_it_arrives_once_right_after_restart(
    tmp_path: Path, any_database_url: str
) -> None:
    async with panel(tmp_path, any_database_url) as p:
        alice = p.tg.user(ALICE, "Alice")
        async with p.sm() as session, write_tx(session):
            notify.enqueue(session, ALICE, notify.BALANCE_CHANGE, {"amount": "5", "balance": "15"})
        p.tg.hold("sendMessage", ALICE)
        async with p.running() as bot:
            await p.kill_when(bot, lambda: bool(p.tg.held))
        p.tg.release("sendMessage", ALICE)  # never performed: its client is gone
        assert alice.messages == []
        started = asyncio.get_running_loop().time()
        async with p.running():
            await alice.wait_message("topped up by 5.00", timeout=WAIT)
            took = asyncio.get_running_loop().time() - started
            await asyncio.sleep(2)
        assert len(alice.messages) == 1
        assert took < 45  # not the old 300 s lease (start-up included, on a busy machine)
        async with p.sm() as session:
            [row] = await session.scalars(select(Notification))
        assert row.status == "sent" and row.leased_until is None
