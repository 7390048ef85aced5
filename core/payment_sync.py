"""What the payment services tell us later: invoices that expired unpaid (the customer is
told once), and which Crypto Pay invoices the poll still has to ask about."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import notify
from core.cryptopay_payments import CRYPTO_EXPIRY_GRACE
from core.payments import CLAIMABLE, PAYMENT_EXPIRED, find_payment
from core.statuses import PaymentMethod, PaymentStatus
from db.engine import write_tx
from db.models import Payment
from db.types import utcnow


async def expire_payment(session: AsyncSession, payment: Payment) -> bool:
    """pending → expired once, and the customer is told; in the caller's transaction."""
    done = await session.scalar(
        update(Payment)
        .where(Payment.id == payment.id, Payment.status == PaymentStatus.PENDING)
        .values(status=PaymentStatus.EXPIRED, updated_at=utcnow())
        .returning(Payment.id)
    )
    if done is None:
        return False
    if payment.user_id is not None:
        notify.enqueue(
            session,
            payment.chat_id or payment.user_id,
            PAYMENT_EXPIRED,
            {
                "payment_id": payment.id,
                "method": payment.method,
                "amount": str(payment.amount),
                "currency": payment.currency,
            },
            dedupe_key=f"payment:{payment.id}:expired",
        )
    return True


async def expire_crypto_invoice(session: AsyncSession, invoice_id: str) -> bool:
    """Crypto Pay says this invoice expired unpaid."""
    async with write_tx(session):
        payment = await find_payment(session, PaymentMethod.CRYPTOPAY, invoice_id[:128])
        return payment is not None and await expire_payment(session, payment)


async def expire_overdue(session: AsyncSession, now: datetime | None = None) -> int:
    """Pending invoices past their time: Stars at once, Crypto Pay after a grace for the
    service's own answer. Returns how many were marked."""
    now = now or utcnow()
    async with write_tx(session):
        rows = await session.scalars(
            select(Payment)
            .where(Payment.status == PaymentStatus.PENDING, Payment.expires_at <= now)
            .order_by(Payment.id)
            .limit(200)
        )
        expired = 0
        for payment in list(rows):
            grace = CRYPTO_EXPIRY_GRACE if payment.method == PaymentMethod.CRYPTOPAY else None
            if grace is not None and payment.expires_at + grace > now:
                continue
            expired += await expire_payment(session, payment)
        return expired


async def open_crypto_invoice_ids(session: AsyncSession, limit: int = 100) -> list[str]:
    """Crypto Pay invoices still waiting for money, oldest first (for getInvoices)."""
    rows = await session.scalars(
        select(Payment.external_id)
        .where(
            Payment.method == PaymentMethod.CRYPTOPAY,
            Payment.status == PaymentStatus.PENDING,
            Payment.external_id.is_not(None),
        )
        .order_by(Payment.id)
        .limit(limit)
    )
    return [row for row in rows if row]


async def settled_crypto_invoice_ids(session: AsyncSession, invoice_ids: list[str]) -> set[str]:
    """Those of `invoice_ids` already credited or kept: a poll skips them without a write."""
    if not invoice_ids:
        return set()
    rows = await session.scalars(
        select(Payment.external_id).where(
            Payment.method == PaymentMethod.CRYPTOPAY,
            Payment.external_id.in_(invoice_ids),
            Payment.status.not_in(CLAIMABLE),
        )
    )
    return {row for row in rows if row}
