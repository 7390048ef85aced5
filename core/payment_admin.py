"""The admin side of top-ups: refunds of Stars payments, the payment list, payment totals.

A refund is three steps around Telegram's refundStarPayment, which runs outside any
transaction: ``begin_refund`` checks that the money is still on the balance and marks the
payment refunding (so two admins cannot refund it twice); ``finish_refund`` debits it once
Telegram has given the Stars back; ``cancel_refund`` puts the payment back when Telegram
refused, and nothing was debited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import alerts, billing, notify
from core.alerts import raise_alert
from core.errors import Refusal
from core.money import ZERO, money
from core.payments import refund_ledger_key
from core.statuses import LedgerKind, PaymentMethod, PaymentStatus
from db.engine import write_tx
from db.models import LedgerEntry, Payment, User
from db.types import utcnow

STALE_REFUND = timedelta(minutes=5)
# What counts as money received, for the totals.
RECEIVED = (PaymentStatus.PAID, PaymentStatus.REFUNDING, PaymentStatus.REFUNDED)


class RefundRefused(Refusal):
    """`code`: not_found | not_stars | not_paid | refunded | in_progress | spent."""


async def begin_refund(session: AsyncSession, charge_id: str) -> Payment:
    """Check and mark a Stars payment for refund; raises RefundRefused with the reason."""
    async with write_tx(session):
        payment = await session.scalar(
            select(Payment).where(Payment.external_id == charge_id[:128])
        )
        if payment is None:
            raise RefundRefused("not_found")
        if payment.method != PaymentMethod.STARS:
            raise RefundRefused("not_stars", method=payment.method)
        if payment.status == PaymentStatus.REFUNDED:
            raise RefundRefused("refunded")
        if payment.status == PaymentStatus.REFUNDING:
            # A refund cut off between Telegram and our debit (a restart) may be resumed:
            # Telegram then answers CHARGE_ALREADY_REFUNDED and the debit is finished.
            if utcnow() - payment.updated_at < STALE_REFUND:
                raise RefundRefused("in_progress")
        elif payment.status not in (PaymentStatus.PAID, PaymentStatus.UNMATCHED):
            raise RefundRefused("not_paid", status=payment.status)
        elif payment.amount > 0:  # a resumed refund may find it spent: finish_refund says so
            balance = await session.scalar(select(User.balance).where(User.id == payment.user_id))
            if balance is None or balance < payment.amount:
                raise RefundRefused(
                    "spent", balance=balance or ZERO, amount=payment.amount, user_id=payment.user_id
                )
        marked = await session.scalar(
            update(Payment)
            .where(Payment.id == payment.id, Payment.status == payment.status)
            .values(status=PaymentStatus.REFUNDING, updated_at=utcnow())
            .returning(Payment.id)
        )
        if marked is None:  # another admin's refund of it started meanwhile
            raise RefundRefused("in_progress")
        return payment


@dataclass(frozen=True)
class RefundDone:
    payment: Payment
    debited: Decimal
    shortfall: Decimal = ZERO  # spent between the check and the debit (a race): not taken


async def finish_refund(session: AsyncSession, payment_id: int, admin_id: int) -> RefundDone:
    """Telegram gave the Stars back: take the payment's amount off the balance, once."""
    async with write_tx(session):
        payment = await session.get(Payment, payment_id, populate_existing=True)
        assert payment is not None and payment.external_id is not None
        debited = shortfall = ZERO
        if payment.amount > 0 and payment.user_id is not None:
            key = refund_ledger_key(payment.method, payment.external_id)
            entry = await billing.find_entry(session, key)
            if entry is None:
                balance = await session.scalar(
                    select(User.balance).where(User.id == payment.user_id)
                )
                debited = min(payment.amount, balance or ZERO)
                shortfall = payment.amount - debited
                if debited > 0:
                    entry = await billing.debit(
                        session,
                        payment.user_id,
                        debited,
                        key=key,
                        kind=LedgerKind.PAYMENT_REFUND,
                        admin_id=admin_id,
                    )
                    notify.balance_changed(session, entry, note=None, currency=payment.currency)
            else:
                debited = -entry.amount
        payment.status = PaymentStatus.REFUNDED
        payment.refunded_at = utcnow()
        return RefundDone(payment, debited, shortfall)


async def cancel_refund(session: AsyncSession, payment_id: int) -> None:
    """Telegram refused the refund: the payment stands as it was; nothing was debited."""
    async with write_tx(session):
        payment = await session.get(Payment, payment_id, populate_existing=True)
        if payment is not None and payment.status == PaymentStatus.REFUNDING:
            payment.status = PaymentStatus.PAID if payment.amount > 0 else PaymentStatus.UNMATCHED


async def recent_payments(
    session: AsyncSession, user_id: int | None = None, limit: int = 20
) -> list[Payment]:
    """Newest first; all customers, or one."""
    stmt = select(Payment).order_by(Payment.id.desc()).limit(limit)
    if user_id is not None:
        stmt = stmt.where(Payment.user_id == user_id)
    return list(await session.scalars(stmt))


@dataclass
class PaymentTotals:
    """Money received by top-ups in a period, per method, and what was refunded."""

    by_method: dict[str, tuple[int, Decimal]] = field(default_factory=dict)
    refunded: Decimal = ZERO
    unmatched: int = 0

    @property
    def count(self) -> int:
        return sum(count for count, _ in self.by_method.values())

    @property
    def total(self) -> Decimal:
        return sum((amount for _, amount in self.by_method.values()), ZERO)


async def payment_totals(session: AsyncSession, since: datetime | None) -> PaymentTotals:
    totals = PaymentTotals()
    paid_since = [] if since is None else [Payment.paid_at >= since]
    rows = await session.execute(
        select(Payment.method, func.count(), func.sum(Payment.amount))
        .where(Payment.status.in_(RECEIVED), *paid_since)
        .group_by(Payment.method)
    )
    for method, count, amount in rows:
        totals.by_method[method] = (count, money(amount or ZERO))
    refunded = await session.scalar(
        select(func.sum(LedgerEntry.amount)).where(
            LedgerEntry.kind == LedgerKind.PAYMENT_REFUND,
            *([] if since is None else [LedgerEntry.created_at >= since]),
        )
    )
    totals.refunded = -money(refunded or ZERO)
    totals.unmatched = (
        await session.scalar(
            select(func.count()).where(Payment.status == PaymentStatus.UNMATCHED, *paid_since)
        )
        or 0
    )
    return totals


async def ask_about_payments(
    session: AsyncSession,
    admin_ids: frozenset[int],
    *,
    user_id: int,
    name: str,
    question: str,
    key: str,
) -> bool:
    """A customer's payment question to the admins, with their recent payments attached.
    `key` (the customer's message) makes a redelivered question arrive once."""
    payments = await recent_payments(session, user_id, limit=5)
    summary = "; ".join(
        f"#{p.id} {p.method} {p.amount:f} {p.currency} {p.status} {p.external_id or ''}".strip()
        for p in payments
    )
    async with write_tx(session):
        return await raise_alert(
            session,
            admin_ids,
            alerts.payment_question(user_id, name, question, summary or "—", key),
        )
