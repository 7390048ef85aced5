"""My orders: list, card, refill and cancel — and nobody sees or touches another's order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from aiogram.methods import EditMessageText, SendMessage
from sqlalchemy import select

from core import billing
from db.engine import write_tx
from db.models import Order, OrderStatusChange, Refill
from handlers.my_orders import OrderAction, OrdersPage, OrderView
from providers import ProviderRegistry
from tests.fakes.provider_server import FakeProvider
from tests.harness.ledger import balance, give_money
from tests.harness.order_seed import seed_catalog

ALICE, BOB = 1001, 1002


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with FakeProvider(api_key="k", timeout_sleep=2) as fp:
        yield fp


@pytest.fixture
async def panel(app, fake):
    registry = ProviderRegistry(
        read_timeout=0.5, connect_timeout=0.5, read_retries=0, requests_per_second=1000
    )
    app.dp.workflow_data["registry"] = registry
    app.lanes.registry = registry
    catalog = await seed_catalog(app.sessionmaker, provider_url=fake.url, provider_key="k")
    await give_money(app.sessionmaker, ALICE, "20")
    await give_money(app.sessionmaker, BOB, "20", first_name="Bob")
    yield catalog
    await registry.close()


async def add_order(app, user_id: int, service_id: int, **fields: object) -> int:
    """An order as place_order would leave it (charged, history row), then moved on."""
    async with app.sessionmaker() as session, write_tx(session):
        values: dict[str, object] = {
            "user_id": user_id,
            "service_id": service_id,
            "provider_id": 1,
            "provider_service_id": "1",
            "link": "https://instagram.com/alice",
            "quantity": 1000,
            "charge": Decimal("1.50"),
            "status": "pending",
        }
        values.update(fields)
        order = Order(**values)
        session.add(order)
        await session.flush()
        await billing.debit(
            session, user_id, order.charge, key=f"charge:{order.id}", order_id=order.id
        )
        session.add(OrderStatusChange(order_id=order.id, old_status=None, new_status="queued"))
        session.add(
            OrderStatusChange(order_id=order.id, old_status="queued", new_status=order.status)
        )
        return order.id


async def test_list_is_paginated_with_id_service_and_status(app, chat, panel) -> None:
    ids = [await add_order(app, ALICE, panel.auto) for _ in range(9)]
    await add_order(app, ALICE, panel.followers, status="completed")
    await add_order(app, BOB, panel.auto)  # never in Alice's list
    alice = chat(ALICE)
    first = await alice.send("/orders")
    assert "My orders</b> (10)" in first.text and "Page 1 of 2" in first.text
    labels = [label for label, _ in first.buttons() if label.startswith("#")]
    assert len(labels) == 8
    assert labels[0] == f"#{ids[-1] + 1} · Instagram Followers ✅"
    assert labels[1] == f"#{ids[-1]} · Instagram Followers Auto ⏳"
    second = await alice.press_button("▶")
    assert isinstance(second.calls[-1], EditMessageText)
    labels = [label for label, _ in second.buttons() if label.startswith("#")]
    assert labels == [
        f"#{ids[1]} · Instagram Followers Auto ⏳",
        f"#{ids[0]} · Instagram Followers Auto ⏳",
    ]


async def test_my_orders_button_and_empty_list(app, chat, panel) -> None:
    alice = chat(ALICE)
    await alice.send("/start")
    reply = await alice.press_button("My orders")
    assert "You have no orders yet." in reply.text
    assert any("New order" in label for label, _ in reply.buttons())


async def test_card_shows_the_order_and_its_history(app, chat, panel) -> None:
    order_id = await add_order(
        app,
        ALICE,
        panel.auto,
        link="https://instagram.com/p/<x>&y",
        start_count=120,
        remains=30,
        status="in_progress",
    )
    alice = chat(ALICE)
    await alice.send("/orders")
    card = await alice.press_button(f"#{order_id}")
    text = card.text
    assert f"<b>Order #{order_id}</b> · Instagram Followers Auto" in text
    assert "Status: 🔄 In progress" in text
    assert "Link: https://instagram.com/p/&lt;x&gt;&amp;y" in text
    assert "Quantity: 1000" in text and "Charge: 1.50 USD" in text
    assert "Start count: 120" in text and "Remains: 30" in text
    assert "· Queued" in text and "· In progress" in text  # history: time + status
    labels = [label for label, _ in card.buttons()]
    assert not any("Refill" in label or "Cancel" in label for label in labels)  # started


async def test_failed_order_card_gives_the_reason(app, chat, panel) -> None:
    order_id = await add_order(app, ALICE, panel.auto, status="failed", error_code="invalid_link")
    card = await chat(ALICE).press(OrderView(order_id=order_id, page=0).pack())
    assert "Status: ❌ Failed" in card.text
    assert "The provider rejected the link" in card.text


async def test_someone_elses_order_is_not_found(app, chat, panel) -> None:
    order_id = await add_order(app, ALICE, panel.auto)
    bob = chat(BOB)
    for data in (
        OrderView(order_id=order_id, page=0).pack(),
        OrderAction(action="cancel", order_id=order_id, page=0).pack(),
        OrderAction(action="refill", order_id=order_id, page=0).pack(),
        OrderView(order_id=424242, page=0).pack(),
    ):
        reply = await bob.press(data)
        assert reply.alerts[-1].text == "Order not found." and reply.alerts[-1].show_alert
        assert not [c for c in reply.calls if isinstance(c, SendMessage | EditMessageText)]
    async with app.sessionmaker() as session:
        order = await session.get(Order, order_id)
        assert order is not None and order.status == "pending"
    assert await balance(app.sessionmaker, ALICE) == Decimal("18.50")


async def test_forged_page_shows_the_last_page(app, chat, panel) -> None:
    await add_order(app, ALICE, panel.auto)
    reply = await chat(ALICE).press(OrdersPage(page=99).pack())
    assert "Page 1 of 1" in reply.text


async def test_cancel_a_pending_order_asks_the_provider(app, chat, panel, fake) -> None:
    provider_order = fake.create_order(service=1, quantity=1000)
    order_id = await add_order(app, ALICE, panel.auto, provider_order_id=provider_order)
    alice = chat(ALICE)
    card = await alice.press(OrderView(order_id=order_id, page=0).pack())
    labels = [label for label, _ in card.buttons()]
    assert "✖ Cancel order" in labels and not any("Refill" in label for label in labels)
    reply = await alice.press_button("Cancel order")
    assert "Cancellation requested for order" in reply.alerts[-1].text
    assert fake.count("cancel") == 1
    assert fake.requests_for("cancel")[0].form["orders"] == provider_order


async def test_cancel_a_queued_order_refunds_at_once(app, chat, panel, fake) -> None:
    order_id = await add_order(app, ALICE, panel.auto, status="queued")
    alice = chat(ALICE)
    await alice.press(OrderView(order_id=order_id, page=0).pack())
    reply = await alice.press_button("Cancel order")
    assert f"Order #{order_id} is cancelled; 1.50 USD was returned" in reply.alerts[-1].text
    assert "Status: ✖️ Cancelled" in reply.text
    assert await balance(app.sessionmaker, ALICE) == Decimal("20.00")
    assert fake.count("cancel") == 0
    again = await alice.press(OrderAction(action="cancel", order_id=order_id, page=0).pack())
    assert "can no longer be cancelled" in again.alerts[-1].text
    assert await balance(app.sessionmaker, ALICE) == Decimal("20.00")


async def test_refill_a_completed_order(app, chat, panel, fake) -> None:
    provider_order = fake.create_order(service=1, quantity=1000, status="Completed")
    order_id = await add_order(
        app, ALICE, panel.auto, provider_order_id=provider_order, status="completed"
    )
    alice = chat(ALICE)
    card = await alice.press(OrderView(order_id=order_id, page=0).pack())
    labels = [label for label, _ in card.buttons()]
    assert "🔁 Refill" in labels and "✖ Cancel order" not in labels
    reply = await alice.press_button("Refill")
    assert f"Refill requested for order #{order_id}" in reply.alerts[-1].text
    assert fake.count("refill") == 1
    async with app.sessionmaker() as session:
        refill = await session.scalar(select(Refill))
        assert refill is not None and refill.order_id == order_id


async def test_refill_is_refused_while_one_is_pending(app, chat, panel, fake) -> None:
    provider_order = fake.create_order(service=1, quantity=1000, status="Completed")
    order_id = await add_order(
        app, ALICE, panel.auto, provider_order_id=provider_order, status="completed"
    )
    alice = chat(ALICE)
    first = await alice.press(OrderAction(action="refill", order_id=order_id, page=0).pack())
    assert f"Refill requested for order #{order_id}" in first.alerts[-1].text
    assert not any("Refill" in label for label, _ in first.buttons())  # card: none offered
    again = await alice.press(OrderAction(action="refill", order_id=order_id, page=0).pack())
    assert f"refill of order #{order_id} is already in progress" in again.alerts[-1].text
    assert fake.count("refill") == 1
    async with app.sessionmaker() as session, write_tx(session):
        refill = await session.scalar(select(Refill))
        assert refill is not None
        refill.status = "completed"
    card = await alice.press(OrderView(order_id=order_id, page=0).pack())
    assert "🔁 Refill" in [label for label, _ in card.buttons()]


async def test_refill_not_offered_where_the_service_has_none(app, chat, panel) -> None:
    order_id = await add_order(app, ALICE, panel.likes, status="completed", provider_order_id="77")
    alice = chat(ALICE)
    card = await alice.press(OrderView(order_id=order_id, page=0).pack())
    assert not any("Refill" in label for label, _ in card.buttons())
    forged = await alice.press(OrderAction(action="refill", order_id=order_id, page=0).pack())
    assert "not available" in forged.alerts[-1].text
