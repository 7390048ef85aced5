"""Provider statuses → panel statuses and exactly-once refunds (SPEC §5, §6)."""

import asyncio
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import delete, func, select, update

from core.admin_actions import set_status
from core.customer_requests import open_refill, request_cancel
from core.lifecycle import apply_provider_status, partial_refund
from core.ordering import OrderError
from core.statuses import LedgerKind, OrderStatus
from db.engine import write_tx
from db.models import LedgerEntry, Notification, Order, OrderStatusChange, Refill
from db.types import utcnow
from providers import RemoteOrderStatus
from tests.core.test_submission import place, submit
from tests.harness.panel import Panel
from tests.harness.settings import CUSTOMER


async def apply(panel: Panel, order_id: int, status: RemoteOrderStatus) -> Order:
    async with panel.sm() as session, write_tx(session):
        order = await session.get(Order, order_id)
        await session.refresh(order, ["service"])
        await apply_provider_status(session, order, status)
        return order


def seen(status: str, raw: str, **fields: object) -> RemoteOrderStatus:
    return RemoteOrderStatus(order_id="1", status=status, raw_status=raw, **fields)


async def test_partial_refunds_a_quarter_exactly_once(panel: Panel) -> None:
    order = await submit(panel, await place(panel))  # 1000 units for 2.00
    partial = seen("partial", "Partial", remains=250, start_count=10, charge=Decimal("0.9"))
    await apply(panel, order.id, partial)
    again = await apply(panel, order.id, partial)
    assert again.status == OrderStatus.PARTIAL and again.refunded == Decimal("0.5")
    assert again.cost == Decimal("0.9") and again.start_count == 10
    assert await panel.balance() == Decimal("8.5")
    async with panel.sm() as session:
        refunds = await session.scalar(
            select(func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.kind == LedgerKind.REFUND)
        )
        notes = (await session.scalars(select(Notification))).all()
    assert refunds == 1
    assert [n.payload["new"] for n in notes] == ["pending", "partial"]
    assert notes[1].payload["refund"] == "0.50000000"


async def test_canceled_refunds_in_full_and_unknown_changes_nothing(panel: Panel) -> None:
    order = await submit(panel, await place(panel))
    await apply(panel, order.id, seen("in_progress", "In progress"))
    await apply(panel, order.id, seen("unknown", "Weird state"))
    mid = await apply(panel, order.id, seen("unknown", "Weird state"))
    assert mid.status == OrderStatus.IN_PROGRESS and mid.provider_status == "Weird state"
    done = await apply(panel, order.id, seen("canceled", "Cancelled"))
    assert done.status == OrderStatus.CANCELED and done.refunded == Decimal("2.00")
    assert await panel.balance() == Decimal("10.00")
    async with panel.sm() as session:
        history = (
            await session.scalars(
                select(OrderStatusChange.new_status)
                .where(OrderStatusChange.order_id == order.id)
                .order_by(OrderStatusChange.id)
            )
        ).all()
    assert history == ["queued", "pending", "in_progress", "canceled"]


def test_partial_refund_clamps_and_rounds_down() -> None:
    assert partial_refund(Decimal("1"), 3, 1) == Decimal("0.33333333")
    assert partial_refund(Decimal("1"), 100, -5) == 0
    assert partial_refund(Decimal("1"), 100, 500) == Decimal("1")


async def test_someone_elses_order_cannot_be_canceled(panel: Panel) -> None:
    order_id = await place(panel)
    async with panel.sm() as session:
        try:
            await request_cancel(session, panel.registry, 4242, order_id)
        except OrderError as exc:
            assert exc.code == "order_not_found"
        else:
            raise AssertionError("canceled someone else's order")
    assert await panel.balance() == Decimal("8.00")


async def test_cancel_of_a_queued_order_refunds_at_once(panel: Panel) -> None:
    order_id = await place(panel)
    async with panel.sm() as session:
        result = await request_cancel(session, panel.registry, CUSTOMER, order_id)
        assert result.code == "canceled"
    assert await panel.balance() == Decimal("10.00")
    assert panel.fake.count("add") == 0


async def test_cancel_of_an_order_moved_on_by_hand_without_a_provider_id(panel: Panel) -> None:
    """An admin set a queued order to pending by hand (/setstatus, no provider id): Cancel has
    nothing to send to the provider, so it is not offered and a press changes nothing."""
    order_id = await place(panel)
    async with panel.sm() as session:
        await set_status(session, order_id, OrderStatus.PENDING, admin_id=9001)
    async with panel.sm() as session:
        result = await request_cancel(session, panel.registry, CUSTOMER, order_id)
    assert result.code == "cancel_not_available"
    assert panel.fake.count("cancel") == 0
    assert await panel.balance() == Decimal("8.00")


async def test_cancel_racing_the_submitter_claim_does_not_refund_a_sent_order(
    panel: Panel,
) -> None:
    """The submitter claimed the order (queued → submitting, not yet committed) when the
    customer pressed Cancel: the cancel must see the claim, not refund an order being sent."""
    order_id = await place(panel)

    async def cancel() -> str:
        async with panel.sm() as session:
            return (await request_cancel(session, panel.registry, CUSTOMER, order_id)).code

    async with panel.sm() as submitter, write_tx(submitter):
        await submitter.execute(
            update(Order)
            .where(Order.id == order_id, Order.status == OrderStatus.QUEUED)
            .values(status=OrderStatus.SUBMITTING)
        )
        pressed = asyncio.create_task(cancel())
        await asyncio.sleep(0.5)  # the cancel reads while the claim is uncommitted
    assert await pressed == "cancel_not_available"
    async with panel.sm() as session:
        order = await session.get(Order, order_id)
        assert order is not None and order.status == OrderStatus.SUBMITTING
    assert await panel.balance() == Decimal("8.00")


async def test_open_refill_counts_pending_ones_and_untracked_ones_for_a_day(panel: Panel) -> None:
    order_id = await place(panel)

    async def refill(**fields: object) -> bool:
        async with panel.sm() as session, write_tx(session):
            await session.execute(delete(Refill))
            session.add(Refill(order_id=order_id, **fields))
        async with panel.sm() as session:
            return await open_refill(session, order_id)

    assert await refill(provider_refill_id="r1", status="pending")
    assert await refill(provider_refill_id="r1", status="in_progress")
    assert not await refill(provider_refill_id="r1", status="completed")
    assert not await refill(provider_refill_id="r1", status="rejected")
    assert await refill(provider_refill_id=None, status="pending")  # a ticket, no id
    old = utcnow() - timedelta(days=2)
    assert not await refill(provider_refill_id=None, status="pending", created_at=old)
    assert await refill(provider_refill_id="r1", status="pending", created_at=old)
