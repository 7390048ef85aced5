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

from core import alerts, billing, notify, parents
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
    implied: Decimal | None = None,
    admin_ids: frozenset[int] = frozenset(),
) -> Decimal:
    """Move an order to `new` in the caller's transaction: history row, refund and the
    customer's notification. Returns the amount refunded now.

    `implied` is the whole refund the new status stands for (partial: charge × remains /
    quantity; canceled, failed: the charge; completed: 0). What the order was refunded
    already (an admin's /refund, an earlier partial) is subtracted: never negative, never
    above the charge, each difference one ledger row keyed on what was refunded before, so a
    repeat writes nothing. A status that implies less than was refunded takes nothing back:
    it is noted on the order and the admins are told. `refund` is an admin's explicit
    amount (at most what is left of the charge, once per reason).
    """
    old = order.status
    refunded = ZERO
    if implied is not None and refund_reason:
        target = min(max(round_down(implied), ZERO), order.charge)
        due = target - order.refunded
        if due > 0:
            before = order.refunded
            reason = refund_reason if before == 0 else f"{refund_reason}:{before.normalize():f}"
            refunded = await _refund(session, order, due, reason, admin_id)
        elif due < 0:
            await _refunded_beyond_status(session, order, new, target, admin_ids)
    elif refund > 0 and refund_reason:
        amount = min(round_down(refund), order.charge - order.refunded)
        refunded = await _refund(session, order, amount, refund_reason, admin_id)
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


async def _refund(
    session: AsyncSession, order: Order, amount: Decimal, reason: str, admin_id: int | None
) -> Decimal:
    entry = await billing.refund(
        session, order.user_id, order.id, amount, reason=reason, admin_id=admin_id
    )
    if entry is None:
        return ZERO
    order.refunded += amount
    return amount


async def _refunded_beyond_status(
    session: AsyncSession, order: Order, new: str, implied: Decimal, admin_ids: frozenset[int]
) -> None:
    """The new status implies less money back than the order already got: keep it (never
    silently take it back from the customer) and tell the admins, who decide."""
    order.last_error = (
        f"{new}: implies a refund of {implied.normalize():f}, "
        f"{order.refunded.normalize():f} already refunded; nothing taken back"
    )
    await alerts.raise_alert(
        session, admin_ids, alerts.refund_above_status(order.id, new, order.refunded, implied)
    )


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
    session: AsyncSession,
    order: Order,
    status: RemoteOrderStatus,
    *,
    admin_ids: frozenset[int] = frozenset(),
) -> bool:
    """Apply one status answer in the caller's transaction; True if the panel status changed.

    Partial refunds charge × remains / quantity (rounded down), canceled/refunded/failed the
    whole charge; each refund is keyed per order and reason, so a status seen twice, a retry
    or a restart never refunds twice. Unknown provider statuses change nothing but the raw
    status kept for admins.
    """
    if status.kind != "order":  # a drip-feed or subscription parent
        return await apply_parent_status(session, order, status, admin_ids=admin_ids)
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
            session,
            order,
            new,
            service_name=name,
            implied=refund,
            refund_reason="partial",
            admin_ids=admin_ids,
        )
    elif new in (OrderStatus.CANCELED, OrderStatus.FAILED, OrderStatus.COMPLETED):
        implied = ZERO if new == OrderStatus.COMPLETED else order.charge
        await change_status(
            session,
            order,
            new,
            service_name=name,
            implied=implied,
            refund_reason=str(new),
            admin_ids=admin_ids,
        )
    else:
        await change_status(session, order, new, service_name=name)
    return True


ENDED = frozenset({OrderStatus.COMPLETED, OrderStatus.PARTIAL, OrderStatus.CANCELED})


async def apply_parent_status(
    session: AsyncSession,
    order: Order,
    status: RemoteOrderStatus,
    *,
    admin_ids: frozenset[int] = frozenset(),
) -> bool:
    """apply_provider_status for a parent answer (same contract: True if the status moved)."""
    order.provider_status = (status.raw_status or status.status)[:64]
    if status.runs is not None:
        order.runs_done = status.runs
    if status.posts is not None:
        order.posts_done = status.posts
    new = PROVIDER_TO_PANEL.get(status.status)
    if new is None or new == order.status:
        return False
    name = order.service.name
    left = parents.undelivered(order, status)
    if new == OrderStatus.FAILED or (new == OrderStatus.CANCELED and left is None):
        await change_status(
            session,
            order,
            new,
            service_name=name,
            implied=order.charge,
            refund_reason=str(new),
            admin_ids=admin_ids,
        )
        return True
    if new not in ENDED:
        await change_status(session, order, new, service_name=name)
        return True
    if left is None:
        if new == OrderStatus.PARTIAL:  # a refund needs to know what was left: a human looks
            order.error_code = "partial_without_remains"
            await change_status(
                session,
                order,
                OrderStatus.REVIEW,
                service_name=name,
                note="Partial without remains",
            )
            return True
        left = 0
    order.remains = left
    if new == OrderStatus.COMPLETED and left > 0:  # a subscription ended short of its posts
        new = OrderStatus.PARTIAL
    refund = partial_refund(order.charge, order.quantity, left)
    reason = "canceled" if new == OrderStatus.CANCELED else "partial"
    await change_status(
        session,
        order,
        new,
        service_name=name,
        implied=refund,
        refund_reason=reason,
        admin_ids=admin_ids,
    )
    return True
