"""Refunds count what was already refunded, on every path (status sync, /refund, /setstatus):
the refund a status implies minus what the order got already, never negative, never above
the charge, each difference a ledger row; a status implying less money back than was
refunded takes nothing back and tells the admins. SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from core.admin_actions import refund_order, set_status
from core.alerts import AlertKind
from core.status_sync import sync_order_statuses
from core.statuses import LedgerKind, OrderStatus
from db.models import LedgerEntry, Notification, Order
from tests.harness.panel import Panel
from tests.harness.settings import ADMINS

ADMIN = next(iter(ADMINS))


async def order_of(panel: Panel, order_id: int) -> Order:
    async with panel.sm() as session:
        order = await session.get(Order, order_id)
        assert order is not None
        return order


async def refund_rows(panel: Panel, order_id: int) -> list[Decimal]:
    async with panel.sm() as session:
        rows = await session.scalars(
            select(LedgerEntry.amount)
            .where(LedgerEntry.order_id == order_id, LedgerEntry.kind == LedgerKind.REFUND)
            .order_by(LedgerEntry.id)
        )
        return list(rows)


async def admin_alerts(panel: Panel, kind: AlertKind) -> list[dict]:  # type: ignore[type-arg]
    async with panel.sm() as session:
        rows = await session.scalars(select(Notification).where(Notification.kind == "admin_alert"))
        return [n.payload for n in rows if n.payload.get("alert") == kind.value]


async def test_an_admin_refund_then_a_partial_refunds_the_half_once(panel: Panel) -> None:
    [(order_id, remote)] = await panel.add_orders(1)  # 1000 units, charge 2.00
    start = await panel.balance()
    async with panel.sm() as session:  # the undelivered half, by hand, while it is active
        await refund_order(session, order_id, Decimal("1.00"), admin_id=ADMIN)
    panel.fake.set_status(remote, "Partial", remains=500)
    await sync_order_statuses(panel.sm, panel.registry, admin_ids=ADMINS)
    await sync_order_statuses(panel.sm, panel.registry, admin_ids=ADMINS)
    order = await order_of(panel, order_id)
    assert order.status == OrderStatus.PARTIAL and order.refunded == Decimal("1.00")
    assert await refund_rows(panel, order_id) == [Decimal("1.00")]
    assert await panel.balance() == start + Decimal("1.00")


async def test_a_cancel_after_an_admin_refund_gives_back_only_the_rest(panel: Panel) -> None:
    [(order_id, remote)] = await panel.add_orders(1)
    async with panel.sm() as session:
        await refund_order(session, order_id, Decimal("0.50"), admin_id=ADMIN)
    panel.fake.set_status(remote, "Canceled")
    await sync_order_statuses(panel.sm, panel.registry, admin_ids=ADMINS)
    order = await order_of(panel, order_id)
    assert order.status == OrderStatus.CANCELED and order.refunded == order.charge
    assert await refund_rows(panel, order_id) == [Decimal("0.50"), Decimal("1.50")]


async def test_a_second_partial_refunds_the_difference_or_tells_the_admin(panel: Panel) -> None:
    [(order_id, _)] = await panel.add_orders(1)
    start = await panel.balance()
    async with panel.sm() as session:
        await set_status(session, order_id, OrderStatus.PARTIAL, admin_id=ADMIN, remains=500)
    async with panel.sm() as session:  # more undelivered than first said: the difference
        await set_status(session, order_id, OrderStatus.PARTIAL, admin_id=ADMIN, remains=800)
    assert await refund_rows(panel, order_id) == [Decimal("1.00"), Decimal("0.60")]
    async with panel.sm() as session:  # less: nothing taken back, the admins are told
        await set_status(session, order_id, OrderStatus.PARTIAL, admin_id=ADMIN, remains=200)
    order = await order_of(panel, order_id)
    assert order.refunded == Decimal("1.60") and "already refunded" in (order.last_error or "")
    [alert] = await admin_alerts(panel, AlertKind.REFUND_ABOVE_STATUS)
    assert alert["refunded"] == "1.6" and alert["implied"] == "0.4"
    assert await panel.balance() == start + Decimal("1.60")


async def test_partial_then_completed_keeps_the_refund_and_tells_the_admin(panel: Panel) -> None:
    [(order_id, _)] = await panel.add_orders(1)
    async with panel.sm() as session:
        await set_status(session, order_id, OrderStatus.PARTIAL, admin_id=ADMIN, remains=250)
    async with panel.sm() as session:
        await set_status(session, order_id, OrderStatus.COMPLETED, admin_id=ADMIN)
    order = await order_of(panel, order_id)
    assert order.status == OrderStatus.COMPLETED and order.refunded == Decimal("0.50")
    assert await refund_rows(panel, order_id) == [Decimal("0.50")]
    [alert] = await admin_alerts(panel, AlertKind.REFUND_ABOVE_STATUS)
    assert alert["order_id"] == order_id and alert["status"] == OrderStatus.COMPLETED


async def test_a_completed_status_after_an_admin_refund_is_kept_and_told(panel: Panel) -> None:
    [(order_id, remote)] = await panel.add_orders(1)
    async with panel.sm() as session:
        await refund_order(session, order_id, Decimal("0.30"), admin_id=ADMIN)
    panel.fake.set_status(remote, "Completed", remains=0)
    await sync_order_statuses(panel.sm, panel.registry, admin_ids=ADMINS)
    order = await order_of(panel, order_id)
    assert order.status == OrderStatus.COMPLETED and order.refunded == Decimal("0.30")
    assert len(await admin_alerts(panel, AlertKind.REFUND_ABOVE_STATUS)) == 1
