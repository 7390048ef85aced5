"""Support tickets through the real Dispatcher: recent orders, the hourly limit, and nothing
an admin types reaches a customer unless it answers a ticket."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from db.models import Notification
from tests.harness.dispatcher import TgChat
from tests.harness.seed import order as seed_order
from tests.harness.settings import ADMIN_ID

if TYPE_CHECKING:
    from bot.app import App

ALICE = 1001


async def _relayed_to(app: App, chat_id: int, kind: str) -> int:
    async with app.sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).where(Notification.chat_id == chat_id, Notification.kind == kind)
        )
    return int(count or 0)


async def test_recent_orders_and_rate_limit(app: App, chat: Callable[..., TgChat]) -> None:
    alice = chat(ALICE)
    await alice.send("/start")
    async with app.sessionmaker() as session:
        await seed_order(session, ALICE, status="completed")
        await session.commit()
    for n in range(10):
        await alice.send("/support")
        reply = await alice.send(f"question {n}")
        assert "ticket #" in reply.text.lower(), reply.text
    assert await _relayed_to(app, ADMIN_ID, "support_ticket") == 10
    async with app.sessionmaker() as session:
        payload = await session.scalar(
            select(Notification.payload).where(Notification.kind == "support_ticket").limit(1)
        )
    assert payload["orders"][0]["status"] == "completed"
    await alice.send("/support")
    refused = await alice.send("question 11")
    assert "many times in the last hour" in refused.text
    assert await _relayed_to(app, ADMIN_ID, "support_ticket") == 10


async def test_only_replies_to_tickets_reach_a_customer(
    app: App, chat: Callable[..., TgChat]
) -> None:
    alice, owner = chat(ALICE), chat(ADMIN_ID, first_name="Owner")
    await alice.send("/start")
    await alice.send("/support")
    await alice.send("hi")
    assert "Usage" in (await owner.send("/reply")).text
    assert "Usage" in (await owner.send("/reply 1")).text
    assert "no ticket #99" in (await owner.send("/reply 99 hello")).text
    # Ids past the 32-bit column, typed or forged on a button: no ticket, no database error.
    assert "no ticket #" in (await owner.send("/reply 99999999999999 hello")).text
    forged = await owner.press("tkt:close:99999999999999")
    assert "no ticket" in forged.alerts[-1].text
    assert "Sent to the customer" in (await owner.send("/reply 1 hello <there>")).text
    assert await _relayed_to(app, ALICE, "support_answer") == 1
    # A non-admin cannot answer tickets: /reply is an unknown command for them.
    assert "Unknown command" in (await alice.send("/reply 1 fake answer")).text
    assert await _relayed_to(app, ALICE, "support_answer") == 1


async def test_non_text_and_cancel(app: App, chat: Callable[..., TgChat]) -> None:
    alice = chat(ALICE)
    await alice.send("/support")
    reply = await alice.send("/cancel")
    assert "Cancelled" in reply.text
    assert "Nothing found" in (await alice.send("just text")).text  # a search, not a ticket
    assert await _relayed_to(app, ADMIN_ID, "support_ticket") == 0
