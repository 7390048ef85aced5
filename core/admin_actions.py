"""What an admin does to money and orders by hand (SPEC §4), each step audited.

Every action runs in one short write transaction that re-reads the order, so a button
pressed on a stale message acts on the order as it is now. Status changes and refunds go
through core.lifecycle.change_status: history row, customer notification, and refunds at
most once per reason, never more than charge − refunded. Provider calls (resend) happen
outside any transaction, through core.submission.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import billing, notify, referrals
from core.add_outcome import RESENT_MAYBE_DELIVERED
from core.audit import audit
from core.errors import Refusal
from core.lifecycle import change_status, load_order, partial_refund
from core.money import ZERO
from core.statuses import LedgerKind, OrderStatus
from core.submission import submit_order
from db.engine import write_tx
from db.models import LedgerEntry, Order, Provider
from providers import ProviderRegistry
from telemetry import metrics

# Review reasons where the provider provably never received the order: resending is safe.
# Any other reason (timeout after sending, 5xx, unreadable answer, crash mid-submission) may
# mean the provider already has it, so a resend needs the admin's explicit confirmation.
SAFE_RESEND_CODES = frozenset({"no_mapping"})
RESENDABLE = frozenset({OrderStatus.REVIEW, OrderStatus.MANUAL})
# Statuses an admin may set by hand; queued/submitting belong to the submitter, failed and
# review to the automatic path.
SETTABLE = (
    OrderStatus.PENDING,
    OrderStatus.PROCESSING,
    OrderStatus.IN_PROGRESS,
    OrderStatus.COMPLETED,
    OrderStatus.PARTIAL,
    OrderStatus.CANCELED,
)
# The charge went back to the customer: the order cannot be reopened.
CLOSED = frozenset({OrderStatus.CANCELED, OrderStatus.FAILED})


class ActionError(Refusal):
    """A refused admin action; `code` picks the message the admin sees."""


def order_snapshot(order: Order) -> dict[str, Any]:
    return {
        "status": order.status,
        "refunded": str(order.refunded),
        "remains": order.remains,
        "provider_id": order.provider_id,
        "provider_service_id": order.provider_service_id,
        "provider_order_id": order.provider_order_id,
    }


async def _order_for_update(session: AsyncSession, order_id: int) -> Order:
    order = await load_order(session, order_id, for_update=True, details=True)
    if order is None:
        raise ActionError("order_not_found", order_id=order_id)
    if order.status == OrderStatus.SUBMITTING:
        raise ActionError("in_flight", order_id=order_id)
    return order


# --- balances -------------------------------------------------------------------------------


async def topup(
    session: AsyncSession,
    user_id: int,
    amount: Decimal,
    *,
    admin_id: int,
    key: str,
    note: str | None = None,
    currency: str | None = None,
) -> LedgerEntry:
    """Credit (amount > 0) or debit (amount < 0) a customer, notify them, audit it.

    `key` makes a replayed command (the same Telegram message) change nothing the second time.
    A debit larger than the balance is refused: balances never go negative.
    """
    if amount == 0:
        raise ActionError("zero_amount")
    async with write_tx(session):
        existing = await billing.find_entry(session, key)
        if existing is not None:
            return existing
        try:
            if amount > 0:
                entry = await billing.credit(
                    session, user_id, amount, key=key, admin_id=admin_id, note=note
                )
                # Counts for the referrer only if the owner said so (REFERRAL_ADMIN_TOPUPS).
                await referrals.credit_for_topup(
                    session, user_id, amount, topup_key=key, by_admin=True
                )
            else:
                entry = await billing.debit(
                    session,
                    user_id,
                    -amount,
                    key=key,
                    kind=LedgerKind.ADMIN_DEBIT,
                    admin_id=admin_id,
                    note=note,
                )
        except billing.UnknownUser:
            raise ActionError("unknown_user", user_id=user_id) from None
        except billing.InsufficientFunds as exc:
            raise ActionError("would_go_negative", user_id=user_id, balance=exc.balance) from None
        notify.balance_changed(session, entry, note=note, currency=currency)
        audit(
            session,
            admin_id,
            "balance.topup" if amount > 0 else "balance.debit",
            f"user:{user_id}",
            {"balance": str(entry.balance_after - entry.amount)},
            {"balance": str(entry.balance_after), "amount": str(entry.amount), "note": note},
        )
    metrics.balance_credited("admin", amount)  # committed; a debit (amount < 0) is not credit
    return entry


# --- refunds and statuses -------------------------------------------------------------------


@dataclass
class RefundResult:
    order: Order
    refunded: Decimal
    canceled: bool
    was_active: bool  # the provider may still be delivering it


async def refund_order(
    session: AsyncSession,
    order_id: int,
    amount: Decimal | None = None,
    *,
    admin_id: int,
    key: str | None = None,
) -> RefundResult:
    """Refund `amount` (default: all that is left) of an order; a full refund cancels it.

    `key` names the admin's request (chat and message): the same request delivered again
    refunds nothing, even though what is left of the charge has changed since.
    """
    async with write_tx(session):
        order = await _order_for_update(session, order_id)
        # Keyed on the request when there is one; otherwise on what was refunded so far, so
        # a later deliberate refund of the rest gets its own key.
        reason = f"admin:{key}" if key else f"admin:{order.refunded.normalize():f}"
        if key and await billing.find_entry(session, billing.refund_key(order.id, reason)):
            return RefundResult(order, ZERO, canceled=False, was_active=False)
        left = order.charge - order.refunded
        if left <= 0:
            raise ActionError("nothing_to_refund", order_id=order_id)
        amount = left if amount is None else amount
        if amount <= 0:
            raise ActionError("zero_amount")
        if amount > left:
            raise ActionError("refund_too_much", order_id=order_id, left=left)
        before = order_snapshot(order)
        old = order.status
        full = amount == left
        new = OrderStatus.CANCELED if full else order.status
        refunded = await change_status(
            session,
            order,
            new,
            service_name=order.service.name,
            note="refund by admin",
            admin_id=admin_id,
            refund=amount,
            refund_reason=reason,
        )
        audit(session, admin_id, "order.refund", f"order:{order.id}", before, order_snapshot(order))
    return RefundResult(
        order, refunded, canceled=full, was_active=old in _AT_PROVIDER and bool(refunded)
    )


_AT_PROVIDER = frozenset({OrderStatus.PENDING, OrderStatus.PROCESSING, OrderStatus.IN_PROGRESS})


@dataclass
class StatusResult:
    order: Order
    old: str
    refunded: Decimal
    # The new status implies less money back than the order already got: this much is kept
    # by the customer (nothing taken back; the admins are alerted too).
    kept: Decimal = ZERO


async def set_status(
    session: AsyncSession,
    order_id: int,
    status: str,
    *,
    admin_id: int,
    remains: int | None = None,
    provider_order_id: str | None = None,
) -> StatusResult:
    """Set an order's status by hand. Partial refunds charge × remains / quantity, canceled
    refunds what is left; both through the same once-per-reason rule as status sync."""
    if status not in SETTABLE:
        raise ActionError("bad_status", status=status)
    async with write_tx(session):
        order = await _order_for_update(session, order_id)
        old = order.status
        if old in CLOSED:
            raise ActionError("closed", order_id=order_id, status=old)
        other_remains = status == OrderStatus.PARTIAL and remains != order.remains
        if old == status and not provider_order_id and not other_remains:
            raise ActionError("same_status", order_id=order_id, status=old)
        before = order_snapshot(order)
        implied, reason = None, None
        if status == OrderStatus.PARTIAL:
            if remains is None or not 0 <= remains <= order.quantity:
                raise ActionError("bad_remains", order_id=order_id, quantity=order.quantity)
            order.remains = remains
            implied, reason = partial_refund(order.charge, order.quantity, remains), "partial"
        elif status == OrderStatus.CANCELED:
            implied, reason = order.charge, "canceled"
        elif status == OrderStatus.COMPLETED:
            order.remains = 0
            implied, reason = ZERO, "completed"
        if provider_order_id:
            order.provider_order_id = provider_order_id[:128]
            if order.provider_id is None:  # was never sent: take the service's mapping
                order.provider_id = order.service.provider_id
                order.provider_service_id = order.service.provider_service_id
        if status in _AT_PROVIDER or status == OrderStatus.COMPLETED:
            order.error_code = None
        refunded = await change_status(
            session,
            order,
            status,
            service_name=order.service.name,
            note="set by admin",
            admin_id=admin_id,
            implied=implied,
            refund_reason=reason,
            admin_ids=frozenset({admin_id}),
        )
        audit(
            session,
            admin_id,
            "order.set_status",
            f"order:{order.id}",
            before,
            order_snapshot(order),
        )
    kept = order.refunded - implied if implied is not None and implied < order.refunded else ZERO
    return StatusResult(order, old, refunded, kept)


# --- resend -----------------------------------------------------------------------------------


def resend_needs_confirmation(order: Order) -> bool:
    """True when the provider might already have this order (an ambiguous review reason)."""
    return order.status == OrderStatus.REVIEW and order.error_code not in SAFE_RESEND_CODES


async def resend(
    session: AsyncSession,
    registry: ProviderRegistry,
    order_id: int,
    *,
    admin_id: int,
    admin_ids: frozenset[int],
    confirmed: bool = False,
) -> Order:
    """Send a review or manual order to its service's provider (again): → queued → submit.

    Refused without `confirmed` when the provider might already have it (ActionError
    "needs_confirmation"). Uses the service's current mapping, so fixing a mapping with /map
    and then resending works.
    """
    async with write_tx(session):
        order = await _order_for_update(session, order_id)
        if order.status not in RESENDABLE:
            raise ActionError("not_resendable", order_id=order_id, status=order.status)
        if resend_needs_confirmation(order) and not confirmed:
            raise ActionError(
                "needs_confirmation", order_id=order_id, reason=order.last_error or ""
            )
        service = order.service
        if service.provider_id is None or not service.provider_service_id:
            raise ActionError("not_mapped", order_id=order_id, service_id=service.id)
        provider = await session.get(Provider, service.provider_id)
        if provider is None or not provider.enabled:
            name = provider.name if provider else "?"
            raise ActionError("provider_disabled", order_id=order_id, provider=name)
        before = order_snapshot(order)
        maybe_delivered = resend_needs_confirmation(order)
        order.provider_id = service.provider_id
        order.provider_service_id = service.provider_service_id
        order.next_attempt_at = None
        # Remembered for the answer: a duplicate refusal then means "it has the first one".
        order.error_code = RESENT_MAYBE_DELIVERED if maybe_delivered else None
        await change_status(
            session,
            order,
            OrderStatus.QUEUED,
            service_name=service.name,
            note="resent by admin",
            admin_id=admin_id,
            notify_customer=False,  # the customer hears about the outcome, not this step
        )
        audit(session, admin_id, "order.resend", f"order:{order.id}", before, order_snapshot(order))
    await submit_order(session, registry, order_id, admin_ids=admin_ids)
    order = await load_order(session, order_id, details=True)
    assert order is not None
    return order
