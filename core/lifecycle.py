"""The order lifecycle (SPEC §5): every status change of an order goes through here.

change_status writes the history row, the customer notification and any refund together,
so no caller can forget one of them; plan_provider_status turns a provider's status answer
into a Move (the columns it reports, the panel status and refund it implies) and
apply_provider_status applies that Move to one order; load_order is the one way to read an
order for a change, its row locked. The rules (plan_provider_status, refund_due,
beyond_status_note) are pure functions, shared with core.lifecycle_bulk, which applies the
Moves of a whole status-sync chunk in a few statements.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from core import alerts, billing, notify, parents
from core.money import ZERO, in_range, round_down
from core.statuses import PROVIDER_TO_PANEL, OrderStatus
from db.models import Order, OrderStatusChange
from db.types import utcnow
from providers import RemoteOrderStatus
from telemetry import metrics


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
    # many-to-one: joined into the order's own statement (one statement, not three)
    options = [joinedload(Order.service), joinedload(Order.provider)]
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
        due = refund_due(order.charge, order.refunded, implied, refund_reason)
        if due.amount > 0:
            refunded = await _refund(session, order, due.amount, due.reason, admin_id)
        elif due.amount < 0:
            await _refunded_beyond_status(session, order, new, due.target, admin_ids)
    elif refund > 0 and refund_reason:
        amount = min(round_down(refund), order.charge - order.refunded)
        refunded = await _refund(session, order, amount, refund_reason, admin_id)
    if new == old and not refunded:
        return refunded
    order.status = new
    order.status_changed_at = utcnow()
    metrics.order_moved(order.provider_id, old, new, placed_at=order.created_at)
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
    order.last_error = beyond_status_note(new, implied, order.refunded)
    await alerts.raise_alert(
        session, admin_ids, alerts.refund_above_status(order.id, new, order.refunded, implied)
    )


@dataclass(frozen=True, slots=True)
class RefundDue:
    """What a status's refund means for an order refunded `refunded` already."""

    amount: Decimal  # to give back now; negative: more was refunded than the status implies
    reason: str  # the ledger key's reason, keyed on what was refunded before (billing.refund_key)
    target: Decimal  # the whole refund the status stands for, within [0, charge]


def refund_due(charge: Decimal, refunded: Decimal, implied: Decimal, reason: str) -> RefundDue:
    """The refund rule: what the status implies (rounded down, never negative, never above
    the charge) minus what the order already got; a repeat of the same change finds the same
    key, so it writes nothing."""
    target = min(max(round_down(implied), ZERO), charge)
    keyed = reason if refunded == 0 else f"{reason}:{refunded.normalize():f}"
    return RefundDue(target - refunded, keyed, target)


def beyond_status_note(new: str, implied: Decimal, refunded: Decimal) -> str:
    """For admins, on the order: the status implies less money back than was refunded."""
    return (
        f"{new}: implies a refund of {implied.normalize():f}, "
        f"{refunded.normalize():f} already refunded; nothing taken back"
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


class OrderFacts(parents.Placed, Protocol):
    """What of an order the status rules read: an Order, or a plain row of its columns."""

    @property
    def status(self) -> str: ...

    @property
    def charge(self) -> Decimal: ...


@dataclass(slots=True)
class Move:
    """What one provider status answer does to an order, worked out before anything is
    written; apply_provider_status applies it to one order, core.lifecycle_bulk to many."""

    fields: dict[str, Any] = field(default_factory=dict)  # columns as the provider reports
    new: str | None = None  # the panel status the order moves to; None: it stays
    note: str | None = None  # on the history row
    implied: Decimal | None = None  # the whole refund the new status stands for
    refund_reason: str | None = None


ENDED = frozenset({OrderStatus.COMPLETED, OrderStatus.PARTIAL, OrderStatus.CANCELED})


def plan_provider_status(order: OrderFacts, status: RemoteOrderStatus) -> Move:
    """The one rule for a provider's status answer (SPEC §5).

    Partial refunds charge × remains / quantity (rounded down), canceled/refunded/failed the
    whole charge, completed nothing; a drip-feed or subscription parent refunds what it did
    not deliver (core.parents). Partial without remains goes to review. Unknown provider
    statuses change nothing but the raw status kept for admins.
    """
    fields: dict[str, Any] = {"provider_status": (status.raw_status or status.status)[:64]}
    if status.kind == "order":
        if status.start_count is not None:
            fields["start_count"] = status.start_count
        if status.remains is not None:
            fields["remains"] = status.remains
        unstored = list(status.unstored)
        if in_range(status.charge):
            fields["cost"] = status.charge
        elif status.charge is not None:
            unstored.append("charge")
        if unstored:  # what fits is stored and the status applied; admins see the rest
            fields["last_error"] = unstored_note("status", unstored, status.raw)
    else:  # a drip-feed or subscription parent
        if status.runs is not None:
            fields["runs_done"] = status.runs
        if status.posts is not None:
            fields["posts_done"] = status.posts
    new = PROVIDER_TO_PANEL.get(status.status)
    if new is None or new == order.status:
        return Move(fields)
    if status.kind == "order":
        return _order_move(order, status, new, fields)
    return _parent_move(order, status, new, fields)


def _order_move(
    order: OrderFacts, status: RemoteOrderStatus, new: OrderStatus, fields: dict[str, Any]
) -> Move:
    if new == OrderStatus.PARTIAL:
        if status.remains is None:
            return _partial_without_remains(fields)
        refund = partial_refund(order.charge, order.quantity, status.remains)
        return Move(fields, new, implied=refund, refund_reason="partial")
    if new in (OrderStatus.CANCELED, OrderStatus.FAILED, OrderStatus.COMPLETED):
        implied = ZERO if new == OrderStatus.COMPLETED else order.charge
        return Move(fields, new, implied=implied, refund_reason=str(new))
    return Move(fields, new)


def _parent_move(
    order: OrderFacts, status: RemoteOrderStatus, new: OrderStatus, fields: dict[str, Any]
) -> Move:
    left = parents.undelivered(order, status)
    if new == OrderStatus.FAILED or (new == OrderStatus.CANCELED and left is None):
        return Move(fields, new, implied=order.charge, refund_reason=str(new))
    if new not in ENDED:
        return Move(fields, new)
    if left is None:
        if new == OrderStatus.PARTIAL:
            return _partial_without_remains(fields)
        left = 0
    fields["remains"] = left
    if new == OrderStatus.COMPLETED and left > 0:  # a subscription ended short of its posts
        new = OrderStatus.PARTIAL
    refund = partial_refund(order.charge, order.quantity, left)
    reason = "canceled" if new == OrderStatus.CANCELED else "partial"
    return Move(fields, new, implied=refund, refund_reason=reason)


def _partial_without_remains(fields: dict[str, Any]) -> Move:
    """A refund needs to know what was left: a human looks (plain orders and parents)."""
    fields["error_code"] = "partial_without_remains"
    return Move(fields, OrderStatus.REVIEW, note="Partial without remains")


async def apply_provider_status(
    session: AsyncSession,
    order: Order,
    status: RemoteOrderStatus,
    *,
    admin_ids: frozenset[int] = frozenset(),
) -> bool:
    """Apply one status answer in the caller's transaction; True if the panel status changed.

    The rule is plan_provider_status; each refund is keyed per order and reason, so a status
    seen twice, a retry or a restart never refunds twice.
    """
    move = plan_provider_status(order, status)
    for name, value in move.fields.items():
        setattr(order, name, value)
    if move.new is None:
        return False
    await change_status(
        session,
        order,
        move.new,
        service_name=order.service.name,
        note=move.note,
        implied=move.implied,
        refund_reason=move.refund_reason,
        admin_ids=admin_ids,
    )
    return True
