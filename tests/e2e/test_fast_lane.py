"""The chat never waits for a provider (issue "fast lane"): a provider that trickles its
answers one byte per second holds up nobody — the customer's Confirm is answered at once
from the database, and another provider's orders are submitted and synced meanwhile. The
trickling add then ends at its deadline as a timeout after sending: awaiting review, shown
by editing the customer's confirmation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal

import pytest
from aiogram.methods import EditMessageText
from sqlalchemy import select

from db.engine import write_tx
from db.models import Order, Provider
from providers import ProviderRegistry
from tests.fakes.provider_server import FakeProvider
from tests.harness import seed
from tests.harness.ledger import give_money
from tests.harness.order_seed import notifications_of

ALICE, BOB = 1001, 1002
DEADLINE = 3.0


@pytest.fixture
async def providers(app) -> AsyncIterator[tuple[FakeProvider, FakeProvider]]:
    registry = ProviderRegistry(read_timeout=DEADLINE, connect_timeout=1, read_retries=0)
    app.dp.workflow_data["registry"] = registry
    app.lanes.registry = registry
    async with (
        FakeProvider(api_key="slow-key", trickle_interval=1.0) as slow,
        FakeProvider(api_key="fast-key") as fast,
    ):
        async with app.sessionmaker() as session, write_tx(session):
            for name, fake, key in (("slow", slow, "slow-key"), ("fast", fast, "fast-key")):
                provider = Provider(name=name, api_url=fake.url, api_key=key)
                session.add(provider)
                await session.flush()
                await seed.service(
                    session, name=f"Followers {name}", price=Decimal("1.00"), min=10,
                    mode="auto", provider_id=provider.id, provider_service_id="1",
                )  # fmt: skip
        slow.set_fault("*", "trickle")  # every answer, one byte per second, never ending
        yield slow, fast
        await app.lanes.stop()
        await registry.close()


async def confirm(chat, service: str, link: str) -> tuple[str, float]:
    await chat.send("/neworder")
    await chat.press_button("Instagram")
    await chat.press_button(service)
    await chat.send(link)
    await chat.send("100")
    started = time.monotonic()
    reply = await chat.press_button("Confirm")
    return reply.text, time.monotonic() - started


async def order_of(app, user_id: int) -> Order:
    async with app.sessionmaker() as session:
        [order] = list(await session.scalars(select(Order).where(Order.user_id == user_id)))
        return order


async def wait_until(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_trickling_provider_delays_no_customer_and_no_other_provider(
    app, chat, providers
) -> None:
    slow, fast = providers
    await give_money(app.sessionmaker, ALICE, "10")
    await give_money(app.sessionmaker, BOB, "10")

    # Alice orders from the trickling provider: answered at once, from the database.
    text, took = await confirm(chat(ALICE), "Followers slow", "https://instagram.com/alice")
    assert "Status: Queued, it will be sent shortly." in text and took < 1.0
    await wait_until(lambda: asyncio.sleep(0, slow.count("add") > 0))
    alice_order = await order_of(app, ALICE)
    assert alice_order.status == "submitting"  # its add is trickling in

    # Meanwhile Bob orders from the other provider: answered at once and sent at once.
    started = time.monotonic()
    text, took = await confirm(chat(BOB), "Followers fast", "https://instagram.com/bob")
    assert "Status: Queued" in text and took < 1.0

    async def bob_pending() -> bool:
        return (await order_of(app, BOB)).status == "pending"

    await wait_until(bob_pending, within=DEADLINE)
    assert time.monotonic() - started < DEADLINE  # before the slow add even timed out
    assert (await order_of(app, ALICE)).status == "submitting"

    # ... and synced: the status job runs each provider on its own.
    bob_order = await order_of(app, BOB)
    fast.set_status(bob_order.provider_order_id, "In progress", start_count=5)
    sync = app.scheduler.get_job("sync_order_statuses")
    await sync.func()

    async def bob_in_progress() -> bool:
        return (await order_of(app, BOB)).status == "in_progress"

    await wait_until(bob_in_progress, within=DEADLINE)
    assert (await order_of(app, ALICE)).status == "submitting"

    # The trickling add ends at its deadline: a timeout after sending, so awaiting review
    # (never sent again), told by editing Alice's confirmation message.
    async def alice_in_review() -> bool:
        return (await order_of(app, ALICE)).status == "review"

    await wait_until(alice_in_review, within=DEADLINE + 5)
    assert slow.count("add") == 1
    [placed] = [
        n for n in await notifications_of(app.sessionmaker, ALICE) if n.kind != "admin_alert"
    ]
    assert placed.kind == "order_placed" and placed.payload["status"] == "review"
    await app.scheduler.get_job("send_notifications").func()
    edits = [c for c in app.bot.session.calls if isinstance(c, EditMessageText)]
    assert any("awaiting review" in e.text and e.chat_id == ALICE for e in edits)
    # Bob heard of the sync's change, never of "submitting → pending": the edit said it.
    bob_told = await notifications_of(app.sessionmaker, BOB)
    assert [(n.kind, n.payload.get("new")) for n in bob_told] == [
        ("order_placed", None),
        ("order_status", "in_progress"),
    ]
