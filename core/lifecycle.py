"""The order lifecycle (SPEC §5): every status change of an order goes through here.

change_status writes the history row, the customer notification and any refund together,
so no caller can forget one of them; apply_provider_status turns a provider's status answer
into a panel status (with its refund); load_order is the one way to read an order for a
change, its row locked.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core import billing, notify
from core.money import ZERO, in_range, round_down
from core.statuses import PROVIDER_TO_PANEL, OrderStatus
from db.models import Order, OrderStatusChange
from db.types import utcnow
from providers import RemoteOrderStatus


async def load_order(
    session: AsyncSession, order_id: int, *, for_update: bool = False, details: bool = False
) -> Order | None:
    """The order as committed now, with its service and provider.

    `for_update` locks the row (PostgreSQL): a change in flight elsewhere (the submitter's
    claim, an admin's review, the add answer) is waited for and seen, never overwritten.
    `details` also loads the history and the customer (admin screens).
    """
    stmt = select(Order).where(Order.id == order_id)
    if for_update:
        stmt = stmt.with_for_update(of=Order)
    options = [selectinload(Order.service), selectinload(Order.provider)]
    if details:
        options += [selectinload(Order.history), selectinload(Order.user)]
    return await session.scalar(stmt.options(*options).execution_options(populate_existing=True))


async def change_status(
    session: AsyncSession,
    order: Order,
    new: str,
    *,
    service_name: str,
    note: str | None = None,
    admin_id: int | None = None,
    notify_customer: bool = True,
    refund: Decimal = ZERO,
    refund_reason: str | None = None,
) -> Decimal:
    """Move an order to `new` in the caller's transaction: history row, refund (at most what
    is left of the charge, once per reason) and the customer's notification. Returns the
    amount refunded."""
    old = order.status
    refunded = ZERO
    if refund > 0 and refund_reason:
        amount = min(round_down(refund), order.charge - order.refunded)
        entry = await billing.refund(
            session,
            order.user_id,
            order.id,
            amount,
            reason=refund_reason,
            admin_id=admin_id,
        )
        if entry is not None:
            order.refunded += amount
            refunded = amount
    if new == old and not refunded:
        return refunded
    order.status = new
    order.status_changed_at = utcnow()
    change = OrderStatusChange(
        order_id=order.id, old_status=old, new_status=new, note=note, admin_id=admin_id
    )
    session.add(change)
    await session.flush()
    if notify_customer:
        notify.order_status_changed(
            session,
            order,
            old,
            new,
            service_name=service_name,
            refund=refunded or None,
            history_id=change.id,
        )
    return refunded


def partial_refund(charge: Decimal, quantity: int, remains: int) -> Decimal:
    """charge × remains / quantity, remains clamped to [0, quantity], rounded down."""
    if quantity <= 0:
        return ZERO
    remains = min(max(remains, 0), quantity)
    return round_down(charge * remains / quantity)


def unstored_note(action: str, names: list[str], raw: dict[str, Any]) -> str:
    """For admins: which numbers of a provider answer were too big to store, and the answer."""
    answer = json.dumps(raw, ensure_ascii=False, default=str)[:1500]
    return f"{action}: not stored (out of range): {', '.join(names)}; answer: {answer}"


async def apply_provider_status(
    session: AsyncSession, order: Order, status: RemoteOrderStatus
) -> bool:
    """Apply one status answer in the caller's transaction; True if the panel status changed.

    Partial refunds charge × remains / quantity (rounded down), canceled/refunded/failed the
    whole charge; each refund is keyed per order and reason, so a status seen twice, a retry
    or a restart never refunds twice. Unknown provider statuses change nothing but the raw
    status kept for admins.
    """
    order.provider_status = (status.raw_status or status.status)[:64]
    if status.start_count is not None:
        order.start_count = status.start_count
    if status.remains is not None:
        order.remains = status.remains
    unstored = list(status.unstored)
    if in_range(status.charge):
        order.cost = status.charge
    elif status.charge is not None:
        unstored.append("charge")
    if unstored:  # what fits is stored and the status applied; admins see the rest
        order.last_error = unstored_note("status", unstored, status.raw)
    new = PROVIDER_TO_PANEL.get(status.status)
    if new is None or new == order.status:
        return False
    name = order.service.name
    if new == OrderStatus.PARTIAL:
        if status.remains is None:  # a refund needs remains: let a human look
            order.error_code = "partial_without_remains"
            await change_status(
                session,
                order,
                OrderStatus.REVIEW,
                service_name=name,
                note="Partial without remains",
            )
            return True
        refund = partial_refund(order.charge, order.quantity, status.remains)
        await change_status(
            session, order, new, service_name=name, refund=refund, refund_reason="partial"
        )
    elif new in (OrderStatus.CANCELED, OrderStatus.FAILED):
        await change_status(
            session, order, new, service_name=name, refund=order.charge, refund_reason=str(new)
        )
    else:
        await change_status(session, order, new, service_name=name)
    return True
