"""What a provider's answer to `add` does to the order it was sent for (SPEC §5).

accepted → pending with the provider's order id; a refusal about the customer's input →
failed and refunded; an ambiguous answer (a timeout after sending, an unreadable answer) →
review, never sent again by itself; no funds, not sent, a refused key → queued again after a
backoff. `accept` is the common case written in a few statements (no ORM objects): the
same status change core.lifecycle.change_status makes for a move without a refund.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, func, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import alerts, notify
from core.lifecycle import change_status, unstored_note
from core.money import in_range
from core.provider_failures import record_provider_failure
from core.statuses import OrderStatus
from db.models import Order, OrderStatusChange, Provider
from db.types import utcnow
from providers import AddOutcome, ApiError
from providers.error_codes import DUPLICATE_ACTIVE_ORDER
from telemetry import metrics

if TYPE_CHECKING:
    from core.claims import Claimed

FAILURE_ALERT_THRESHOLD = 3
MAX_BACKOFF = timedelta(hours=1)
# error_code of an order an admin resent although the provider may have its first add.
RESENT_MAYBE_DELIVERED = "resent_maybe_delivered"

_orders = Order.__table__.c
_providers = Provider.__table__.c
_ACCEPT = (
    update(Order.__table__)
    .where(_orders.id == bindparam("order_id"), _orders.status == OrderStatus.SUBMITTING)
    .values(
        status=OrderStatus.PENDING,
        provider_order_id=bindparam("provider_order_id"),
        cost=func.coalesce(bindparam("cost", type_=_orders.cost.type), _orders.cost),
        last_error=bindparam("last_error"),
        error_code=None,
        status_changed_at=bindparam("now"),
        updated_at=bindparam("now"),
    )
    .returning(_orders.refunded)
)
# A success ends the provider's run of failures and its backoff (written only if it had any).
_PROVIDER_ANSWERED = (
    update(Provider.__table__)
    .where(
        _providers.id == bindparam("provider_id"),
        (_providers.consecutive_failures != 0) | _providers.retry_after.is_not(None),
    )
    .values(consecutive_failures=0, retry_after=None)
)
_HISTORY = insert(OrderStatusChange.__table__).values(
    order_id=bindparam("order_id"),
    old_status=OrderStatus.SUBMITTING,
    new_status=OrderStatus.PENDING,
    created_at=bindparam("now"),
)


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 ... minutes, capped at an hour."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


async def accept(
    session: AsyncSession, order: Claimed, outcome: AddOutcome, *, service_name: str
) -> bool:
    """The provider took the order: submitting → pending with its id (and what it billed),
    a history row, and the customer's confirmation edited to show it — in the caller's
    write transaction. False, with nothing written, when the order is no longer
    `submitting` (moved to review meanwhile: see note_late_outcome)."""
    now = utcnow()
    cost, note = accepted_cost(outcome)
    row = (
        await session.execute(
            _ACCEPT,
            {
                "order_id": order.id,
                "provider_order_id": outcome.provider_order_id,
                "cost": cost,
                "last_error": note,
                "now": now,
            },
        )
    ).first()
    if row is None:
        return False
    await session.execute(_PROVIDER_ANSWERED, {"provider_id": order.provider_id})
    await session.execute(_HISTORY, {"order_id": order.id, "now": now})
    metrics.order_moved(
        order.provider_id, OrderStatus.SUBMITTING, OrderStatus.PENDING, placed_at=order.created_at
    )
    notify.order_placed(
        session,
        order,
        service_name=service_name,
        status=OrderStatus.PENDING,
        error_code=None,
        refunded=row[0],
    )
    return True


def accepted_cost(outcome: AddOutcome) -> tuple[Decimal | None, str | None]:
    """What an accepted add stores beside its id: the provider's charge as the order's cost
    when it fits the money range, else (None, a note saying what was not stored). The id is
    kept whatever the charge: it is the order."""
    charge = outcome.charge
    if charge is None:
        return None, None
    if in_range(charge):
        return charge, None
    return None, unstored_note("add", ["charge"], {"charge": str(charge)})


def note_late_outcome(order: Order, outcome: AddOutcome) -> None:
    """The add answered after the order left submitting (taken for stuck, moved to review;
    an admin may already act on it): what the provider said is kept for the admin, and
    nothing else changes."""
    if outcome.kind == "accepted" and not order.provider_order_id:
        order.provider_order_id = outcome.provider_order_id
    detail = outcome.provider_order_id or (outcome.error.message if outcome.error else "")
    order.last_error = f"late add answer: {outcome.kind} {detail}"[:2000]


async def apply_add_outcome(
    session: AsyncSession,
    order: Order,
    provider: Provider,
    outcome: AddOutcome,
    *,
    admin_ids: frozenset[int],
    notify_customer: bool,
) -> None:
    """Any add outcome, applied to the loaded order in the caller's write transaction."""
    service_name = order.service.name
    error = outcome.error
    now = utcnow()
    if outcome.kind == "accepted":
        cost, order.last_error = accepted_cost(outcome)
        order.provider_order_id, order.error_code = outcome.provider_order_id, None
        if cost is not None:
            order.cost = cost
        provider.consecutive_failures = 0
        provider.retry_after = None
        await change_status(
            session,
            order,
            OrderStatus.PENDING,
            service_name=service_name,
            notify_customer=notify_customer,
        )
        return

    maybe_delivered = order.error_code == RESENT_MAYBE_DELIVERED
    message = error.message if error is not None else (outcome.reason or outcome.kind)
    code = error.code if isinstance(error, ApiError) else outcome.kind
    message = record_provider_failure(
        session, provider, "add", message, order_id=order.id, code=code
    )
    order.last_error, order.error_code = message, code

    if maybe_delivered and code == DUPLICATE_ACTIVE_ORDER:
        # The first add of this order may have arrived after all: "you already have an
        # active order for this link" most likely means that one. Refunding would leave the
        # provider delivering an order the customer got back; an admin attaches its id.
        note = (
            "resent; the provider says it already has an active order for this link, "
            "probably the first one: attach its id with /setstatus ID pending PROVIDER_ID"
        )
        await to_review(session, order, service_name, code, note, admin_ids, notify_customer)
        return
    if outcome.kind == "rejected" and not (isinstance(error, ApiError) and error.stop_provider):
        await change_status(
            session,
            order,
            OrderStatus.FAILED,
            service_name=service_name,
            note=message[:500],
            notify_customer=notify_customer,
            implied=order.charge,
            refund_reason="failed",
            admin_ids=admin_ids,
        )
        return
    if outcome.kind == "ambiguous":
        await to_review(session, order, service_name, code, message, admin_ids, notify_customer)
        await count_failure(session, provider, admin_ids)
        return
    # no_funds, not_sent, or a provider-level refusal (bad key): safe to send again later.
    delay = backoff(order.attempts)
    order.status = OrderStatus.QUEUED
    order.next_attempt_at = now + delay
    provider.retry_after = now + delay
    await count_failure(session, provider, admin_ids)
    await alert_account(session, provider, outcome, message, admin_ids)


async def alert_account(
    session: AsyncSession,
    provider: Provider,
    outcome: AddOutcome,
    message: str,
    admin_ids: frozenset[int],
) -> None:
    """An add refused for the whole account (no funds, a bad key) tells the admins."""
    error = outcome.error
    if outcome.kind == "no_funds":
        await alerts.raise_alert(session, admin_ids, alerts.provider_no_funds(provider))
    elif isinstance(error, ApiError) and error.stop_provider:
        await alerts.raise_alert(session, admin_ids, alerts.provider_key(provider, message))


async def count_failure(
    session: AsyncSession, provider: Provider, admin_ids: frozenset[int]
) -> None:
    provider.consecutive_failures += 1
    if provider.consecutive_failures >= FAILURE_ALERT_THRESHOLD:
        alert = alerts.provider_failing(
            provider, provider.consecutive_failures, provider.last_error or ""
        )
        await alerts.raise_alert(session, admin_ids, alert)


async def to_review(
    session: AsyncSession,
    order: Order,
    service_name: str,
    code: str,
    message: str,
    admin_ids: frozenset[int],
    notify_customer: bool,
) -> None:
    """The provider may have the order: a human looks (the admins are alerted)."""
    order.error_code, order.last_error = code, message[:2000]
    await change_status(
        session,
        order,
        OrderStatus.REVIEW,
        service_name=service_name,
        note=message[:500],
        notify_customer=notify_customer,
    )
    await alerts.raise_alert(session, admin_ids, alerts.orders_review(order.id, message))
