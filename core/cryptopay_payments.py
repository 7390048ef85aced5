"""Crypto Pay top-ups (SPEC §10): the invoice the service created, and its paid event.

A paid invoice (webhook or getInvoices, whichever comes first) is credited exactly once,
keyed by the invoice id, through core.payments' claim and credit; money that fits no
invoice of ours is kept unmatched for the admins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.money import ZERO, money
from core.payments import (
    Credit,
    CreditOutcome,
    claim_paid,
    credit_topup,
    find_payment,
    invoice_of,
    keep_unmatched,
)
from core.statuses import PaymentMethod, PaymentStatus
from db.engine import write_tx
from db.models import Payment
from db.types import utcnow

# Crypto Pay decides when its invoice expires; we wait a little past it for its answer.
CRYPTO_EXPIRY_GRACE = timedelta(minutes=5)


async def attach_external_invoice(
    session: AsyncSession, payment_id: int, external_id: str, pay_url: str | None
) -> Payment | None:
    """Remember the payment service's invoice id and link (Crypto Pay's createInvoice)."""
    async with write_tx(session):
        payment = await session.get(Payment, payment_id, populate_existing=True)
        if payment is None:
            return None
        if payment.external_id is None:
            payment.external_id = external_id[:128]
        payment.pay_url = pay_url
        return payment


async def mark_failed(session: AsyncSession, payment_id: int, reason: str) -> None:
    """The invoice could not be created; a payment that arrives later still credits."""
    async with write_tx(session):
        await session.execute(
            update(Payment)
            .where(Payment.id == payment_id, Payment.status == PaymentStatus.PENDING)
            .values(status=PaymentStatus.FAILED, note=reason[:500], updated_at=utcnow())
        )


@dataclass(frozen=True)
class PaidInvoice:
    """A paid Crypto Pay invoice as the service reported it (strings as they came)."""

    invoice_id: str
    amount: str
    fiat: str | None
    payload: str | None
    paid_asset: str | None = None
    paid_amount: str | None = None

    @classmethod
    def of(cls, invoice: Any) -> PaidInvoice:
        """The paid fields of a Crypto Pay client invoice (webhook and poll share this)."""
        return cls(
            invoice_id=invoice.invoice_id,
            amount=invoice.amount,
            fiat=invoice.fiat,
            payload=invoice.payload,
            paid_asset=invoice.paid_asset,
            paid_amount=invoice.paid_amount,
        )


async def record_crypto_payment(
    session: AsyncSession,
    invoice: PaidInvoice,
    *,
    panel_currency: str,
    admin_ids: frozenset[int],
) -> CreditOutcome:
    """A paid Crypto Pay invoice (webhook or getInvoices, whichever comes first): credit it
    exactly once, keyed by the invoice id."""
    method = PaymentMethod.CRYPTOPAY
    invoice_id = invoice.invoice_id[:128]
    try:
        async with write_tx(session):
            payment = await find_payment(session, method, invoice_id)
            if payment is None:
                payment = await invoice_of(session, invoice.payload, method)
            if payment is not None and payment.status == PaymentStatus.UNMATCHED:
                return CreditOutcome(Credit.DUPLICATE)
            reason = _crypto_mismatch(payment, invoice)
            if reason is None and payment is not None:
                claimed = await claim_paid(
                    session,
                    payment,
                    invoice_id,
                    paid_asset=(invoice.paid_asset or "")[:16] or None,
                    paid_amount=(invoice.paid_amount or "")[:64] or None,
                )
                if not claimed:
                    return CreditOutcome(Credit.DUPLICATE)
                entry = await credit_topup(session, payment)
                return CreditOutcome(Credit.CREDITED, payment, entry)
            kept = await keep_unmatched(
                session,
                admin_ids,
                method=method,
                external_id=invoice_id,
                user_id=payment.user_id if payment is not None else None,
                price=_decimal(invoice.amount),
                price_currency=invoice.fiat or "?",
                reason=reason or "unknown invoice",
                currency=panel_currency,
            )
            return CreditOutcome(Credit.UNMATCHED, kept)
    except IntegrityError:
        await session.rollback()
        return CreditOutcome(Credit.DUPLICATE)


def _decimal(text: str) -> Decimal:
    try:
        return money(text)
    except (InvalidOperation, ValueError, TypeError):
        return ZERO


def _crypto_mismatch(payment: Payment | None, invoice: PaidInvoice) -> str | None:
    if payment is None:
        return "unknown invoice"
    if (invoice.fiat or "").upper() != payment.price_currency.upper() or _decimal(
        invoice.amount
    ) != payment.price:
        return (
            f"amount {invoice.amount} {invoice.fiat} instead of "
            f"{payment.price:f} {payment.price_currency}"
        )
    return None
