"""The whole background loop in the running app (issue "Done when"): orders placed, moved at
the provider through In progress to Completed / Partial / Canceled, and nothing done but
waiting: the real scheduler jobs submit, sync, refund and tell every customer over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from core import billing
from core.ordering import OrderDraft, place_order
from db.engine import write_tx
from db.models import User
from tests.fakes.provider_server import FakeProvider
from tests.fakes.telegram_server import FakeTelegram
from tests.harness.e2e import polling_app
from tests.harness.panel import Panel, seed_panel
from tests.harness.settings import ADMINS, CUSTOMER

BOB = 1002
SEED = Decimal("100000")


@pytest.fixture
async def running(database_url: str) -> AsyncIterator[tuple[Panel, FakeTelegram]]:
    async with FakeProvider(api_key="done-key") as provider, FakeTelegram() as telegram:
        panel = await seed_panel(database_url, provider)
        async with panel.sm() as session, write_tx(session):
            session.add(User(id=BOB, first_name="Bob", language="en", balance=Decimal(0)))
        try:
            async with polling_app(
                database_url, telegram, status_sync_seconds=1, submit_interval_seconds=1
            ):
                yield panel, telegram
        finally:
            await panel.close()


async def wait_texts(telegram: FakeTelegram, chat_id: int, count: int) -> list[str]:
    found = await telegram.wait_for(
        lambda: len(telegram.history(chat_id)) >= count or None, timeout=20
    )
    assert found, telegram.describe_chat(chat_id)
    return [m.text for m in telegram.history(chat_id)]


async def test_customers_hear_every_status_change_and_get_exact_refunds(
    running: tuple[Panel, FakeTelegram],
) -> None:
    panel, telegram = running
    async with panel.sm() as session:
        async with write_tx(session):
            await billing.credit(session, BOB, Decimal("10"), key="bob-seed")
        placed = {}
        for user_id, name, quantity in (
            (CUSTOMER, "completed", 1000),
            (CUSTOMER, "partial", 1000),
            (BOB, "canceled", 500),
            (BOB, "in_progress", 100),
        ):
            draft = OrderDraft(panel.service_id, f"https://instagram.com/{name}", quantity)
            result = await place_order(session, user_id, draft, key=name, admin_ids=ADMINS)
            placed[name] = result.order
    ids = {name: order.id for name, order in placed.items()}

    # Only waiting from here: the submission job sends them, the sender tells the customers.
    # (a provider's lane sends its orders side by side: the two answers come in any order)
    assert sorted(await wait_texts(telegram, CUSTOMER, 2)) == [
        f"#{ids['completed']} · Instagram Followers — Queued → Pending",
        f"#{ids['partial']} · Instagram Followers — Queued → Pending",
    ]
    await wait_texts(telegram, BOB, 2)
    remote = {name: o.provider_order_id for name, o in (await _orders(panel, ids)).items()}
    assert all(remote.values()) and panel.fake.count("add") == 4

    for name in ids:
        panel.fake.set_status(remote[name], "In progress", start_count=10)
    await wait_texts(telegram, CUSTOMER, 4)
    await wait_texts(telegram, BOB, 4)

    panel.fake.set_status(remote["completed"], "Completed", remains=0)
    panel.fake.set_status(remote["partial"], "Partial", remains=250)
    panel.fake.set_status(remote["canceled"], "Canceled")
    alice = await wait_texts(telegram, CUSTOMER, 6)
    bob = await wait_texts(telegram, BOB, 5)

    assert alice[2:] == [
        f"#{ids['completed']} · Instagram Followers — Pending → In progress",
        f"#{ids['partial']} · Instagram Followers — Pending → In progress",
        f"#{ids['completed']} · Instagram Followers — In progress → Completed",
        f"#{ids['partial']} · Instagram Followers — In progress → Partial\n"
        "Not delivered: 250\n💰 Refunded 0.50 USD to your balance.",
    ]
    assert sorted(bob[:2]) == [
        f"#{ids['canceled']} · Instagram Followers — Queued → Pending",
        f"#{ids['in_progress']} · Instagram Followers — Queued → Pending",
    ]
    assert bob[2:] == [
        f"#{ids['canceled']} · Instagram Followers — Pending → In progress",
        f"#{ids['in_progress']} · Instagram Followers — Pending → In progress",
        f"#{ids['canceled']} · Instagram Followers — In progress → Cancelled\n"
        "💰 Refunded 1.00 USD to your balance.",
    ]
    refunds = await panel.refunds()
    assert refunds == {ids["partial"]: [Decimal("0.5")], ids["canceled"]: [Decimal("1.00")]}
    assert await panel.balance(CUSTOMER) == SEED - Decimal("4.00") + Decimal("0.5")
    assert await panel.balance(BOB) == Decimal("10") - Decimal("1.20") + Decimal("1.00")

    # More cycles change nothing: no second refund, no repeated message.
    sync_requests = panel.fake.count("status")
    await telegram.wait_for(lambda: panel.fake.count("status") >= sync_requests + 2, timeout=10)
    assert await panel.refunds() == refunds
    assert len(telegram.history(CUSTOMER)) == 6 and len(telegram.history(BOB)) == 5


async def _orders(panel: Panel, ids: dict[str, int]) -> dict[str, object]:
    orders = await panel.orders()
    return {name: orders[order_id] for name, order_id in ids.items()}
