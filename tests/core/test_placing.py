"""Placing orders once per key: core answers "already placed" itself, also when a concurrent
tap wins the unique key between our look-up and our insert (on every database)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from core import billing, mass_order, ordering
from core.claims import due_queued_orders
from core.mass_order import place_mass_order
from core.ordering import OrderDraft, place_order
from tests.harness.panel import Panel
from tests.harness.settings import ADMINS, CUSTOMER


def draft(panel: Panel, quantity: int = 1000) -> OrderDraft:
    return OrderDraft(panel.service_id, "https://instagram.com/p/x", quantity)


async def test_the_same_key_returns_the_order_it_placed(panel: Panel) -> None:
    async with panel.sm() as session:
        first = await place_order(session, CUSTOMER, draft(panel), key="k", admin_ids=ADMINS)
        again = await place_order(session, CUSTOMER, draft(panel), key="k", admin_ids=ADMINS)
    assert first.new and not again.new
    assert again.order.id == first.order.id
    assert len(await panel.orders()) == 1
    assert await panel.balance() == Decimal("8.00")


async def test_a_key_another_tap_committed_returns_the_winners_order(panel: Panel) -> None:
    """No look-up before the insert: the insert itself meets the key a concurrent tap
    committed (here or on another replica), inserts nothing and charges nothing."""
    async with panel.sm() as other:  # the concurrent tap commits first
        winner = await place_order(other, CUSTOMER, draft(panel), key="k", admin_ids=ADMINS)
    async with panel.sm() as session:
        placed = await place_order(session, CUSTOMER, draft(panel), key="k", admin_ids=ADMINS)
    assert not placed.new and placed.order.id == winner.order.id
    assert len(await panel.orders()) == 1
    assert await panel.balance() == Decimal("8.00")


async def test_two_taps_at_once_place_and_charge_one_order(panel: Panel, monkeypatch) -> None:
    """The second tap's insert runs while the first tap's transaction still holds the key
    uncommitted (PostgreSQL: the insert waits for it, then inserts nothing; SQLite: the
    write lock makes it wait before its transaction starts)."""
    real_debit = billing.debit
    inside = asyncio.Event()

    async def held_debit(*args: Any, **kwargs: Any) -> Any:
        inside.set()
        await asyncio.sleep(0.5)  # the other tap reaches its insert meanwhile
        return await real_debit(*args, **kwargs)

    monkeypatch.setattr(billing, "debit", held_debit)

    async def tap() -> ordering.Placed:
        async with panel.sm() as session:
            return await place_order(session, CUSTOMER, draft(panel), key="k", admin_ids=ADMINS)

    first = asyncio.create_task(tap())
    await inside.wait()
    second = await tap()
    placed = await first
    assert placed.new and not second.new and second.order.id == placed.order.id
    assert len(await panel.orders()) == 1
    assert await panel.balance() == Decimal("8.00")


async def test_a_mass_order_key_places_its_orders_once(panel: Panel, monkeypatch) -> None:
    drafts = [draft(panel, 1000), draft(panel, 500)]
    async with panel.sm() as session:
        first = await place_mass_order(session, CUSTOMER, drafts, key="m", admin_ids=ADMINS)
        again = await place_mass_order(session, CUSTOMER, drafts, key="m", admin_ids=ADMINS)
    assert first.new and not again.new
    assert [o.id for o in again.orders] == [o.id for o in first.orders]

    real = mass_order.orders_by_key_prefix
    looked: list[str] = []

    async def stale_snapshot(session, user_id, key):
        looked.append(key)
        return [] if len(looked) == 1 else await real(session, user_id, key)

    monkeypatch.setattr(mass_order, "orders_by_key_prefix", stale_snapshot)
    async with panel.sm() as session:
        raced = await place_mass_order(session, CUSTOMER, drafts, key="m", admin_ids=ADMINS)
    assert len(looked) == 2 and not raced.new
    assert [o.id for o in raced.orders] == [o.id for o in first.orders]
    assert len(await panel.orders()) == 2
    assert await panel.balance() == Decimal("7.00")


async def test_later_messages_orders_wait_for_their_message(panel: Panel) -> None:
    """Orders past the first confirmation message are not sent (not even by the periodic
    job) until the message showing them is known: answered before, they would be told by a
    status message instead of the edit. Once shown, they are due like any other."""
    per = mass_order.LINES_PER_MESSAGE
    drafts = [draft(panel, 100) for _ in range(per + 5)]
    async with panel.sm() as session:
        placed = await place_mass_order(
            session, CUSTOMER, drafts, key="m", admin_ids=ADMINS, confirm_message_id=7
        )
        ids = [o.id for o in placed.orders]
        assert await due_queued_orders(session, 100) == ids[:per]
        await session.commit()
        await mass_order.shown_in(session, CUSTOMER, {8: ids[per:]})
        assert await due_queued_orders(session, 100) == ids
        await session.commit()
    shown = {o.id: o.confirm_message_id for o in (await panel.orders()).values()}
    assert [shown[i] for i in ids] == [7] * per + [8] * 5
