"""🔁 Order again: the same service, link and quantity (or list) straight to the confirmation
with a fresh price; confirming places a new order; only one's own orders; gone services
and quantities that no longer fit are refused with the reason."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select, update

from db.engine import write_tx
from db.models import Order, Service
from handlers.my_orders import OrderView
from handlers.reorder import OrderAgain
from tests.harness.ledger import balance, give_money
from tests.harness.order_seed import seed_catalog

ALICE, BOB = 1001, 1002


@pytest.fixture
async def panel(app):
    catalog = await seed_catalog(app.sessionmaker)
    await give_money(app.sessionmaker, ALICE, "100")
    await give_money(app.sessionmaker, BOB, "100", first_name="Bob")
    return catalog


async def add_order(app, user_id: int, service_id: int, **fields: object) -> int:
    async with app.sessionmaker() as session, write_tx(session):
        values: dict[str, object] = {"user_id": user_id, "service_id": service_id,
                                     "link": "https://instagram.com/alice", "quantity": 1000,
                                     "charge": Decimal(2), "status": "completed"}  # fmt: skip
        order = Order(**(values | fields))
        session.add(order)
        await session.flush()
        return order.id


async def orders_of(app, user_id: int) -> list[Order]:
    async with app.sessionmaker() as session:
        rows = await session.scalars(select(Order).where(Order.user_id == user_id))
        return list(rows)


async def test_order_again_requotes_and_places_a_new_order(app, chat, panel) -> None:
    first = await add_order(app, ALICE, panel.followers)
    async with app.sessionmaker() as session, write_tx(session):  # the price went up since
        await session.execute(
            update(Service).where(Service.id == panel.followers).values(price=Decimal(3))
        )
    alice = chat(ALICE)
    card = await alice.press(OrderView(order_id=first, page=0).pack())
    reply = await alice.press(card.button("Order again"))
    assert "https://instagram.com/alice" in reply.text and "1000" in reply.text
    assert "3.00 USD" in reply.text  # quoted again, not the old 2.00
    reply = await alice.press(reply.button("Confirm"))
    assert "#" in reply.text
    orders = await orders_of(app, ALICE)
    assert len(orders) == 2
    again = orders[-1]
    assert (again.service_id, again.link, again.quantity) == (panel.followers, orders[0].link, 1000)
    assert again.charge == Decimal(3)
    assert await balance(app.sessionmaker, ALICE) == Decimal(97)


async def test_a_comment_list_is_ordered_again_line_by_line(app, chat, panel) -> None:
    lines = ["Nice!", "Great <post>", "Wow"]
    first = await add_order(app, ALICE, panel.comments, quantity=3,
                            extra={"comments": lines})  # fmt: skip
    alice = chat(ALICE)
    reply = await alice.press(OrderAgain(order_id=first).pack())
    assert "Quantity: 3" in reply.text and "• Great &lt;post&gt;" in reply.text
    await alice.press(reply.button("Confirm"))
    again = (await orders_of(app, ALICE))[-1]
    assert again.quantity == 3 and again.extra == {"comments": lines}


async def test_only_ones_own_and_still_orderable(app, chat, panel) -> None:
    bobs = await add_order(app, BOB, panel.followers)
    alice = chat(ALICE)
    reply = await alice.press(OrderAgain(order_id=bobs).pack())
    assert "Order not found" in reply.alerts[-1].text
    hidden = await add_order(app, ALICE, panel.hidden)
    reply = await alice.press(OrderAgain(order_id=hidden).pack())
    assert "no longer available" in reply.alerts[-1].text
    likes = await add_order(app, ALICE, panel.likes, quantity=5000)  # max is 1000 now
    reply = await alice.press(OrderAgain(order_id=likes).pack())
    assert "now takes 100 to 1000" in reply.alerts[-1].text
    assert len(await orders_of(app, ALICE)) == 2
