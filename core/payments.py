"""Self-service top-ups (SPEC §10): invoices, and the credit of a paid one, exactly once.

Crypto Pay's own part (its invoices, its paid events) is core.cryptopay_payments.

A top-up starts as a pending Payment row whose random token travels in the invoice payload.
When the payment service says it was paid (Telegram's successful_payment, Crypto Pay's
webhook or getInvoices), one short write transaction claims the row (a conditional UPDATE
from pending/expired/failed to paid) and credits the promised amount with the ledger key
``payment:<method>:<charge or invoice id>``. A repeat of the same event finds the row
already paid (or the ledger key taken, or the unique key refusing the insert) and credits
nothing, also when two replicas handle it at the same moment.

Money that matches no invoice of ours is never credited blindly: it is kept as an
unmatched Payment and the admins are alerted once.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import alerts, billing, notify, referrals
from core.alerts import raise_alert
from core.money import ZERO, money
from core.statuses import LedgerKind, PaymentMethod, PaymentStatus
from db.engine import write_tx
from db.models import LedgerEntry, Payment
from db.types import utcnow
from telemetry import metrics

PAYLOAD_PREFIX = "topup:"
STARS_CURRENCY = "XTR"
MAX_STARS = 10_000  # Telegram's cap for one Stars invoice
# A paid event may arrive for an invoice we already marked expired or failed (paid at the
# last second, or created although the create call timed out): the money still counts.
CLAIMABLE = (PaymentStatus.PENDING, PaymentStatus.EXPIRED, PaymentStatus.FAILED)

PAYMENT_RECEIVED = "payment_received"
PAYMENT_EXPIRED = "payment_expired"


class Credit(StrEnum):
    CREDITED = "credited"  # credited now
    DUPLICATE = "duplicate"  # this payment was already handled: nothing changed
    UNMATCHED = "unmatched"  # no invoice of ours fits: kept for the admins, not credited


@dataclass(frozen=True)
class CreditOutcome:
    result: Credit
    payment: Payment | None = None
    entry: LedgerEntry | None = None


class CheckoutRefusal(StrEnum):
    """Why a Stars pre-checkout is declined (the customer reads a sentence for each)."""

    UNKNOWN = "unknown"  # not our invoice
    OTHER_USER = "other_user"
    CHANGED = "changed"  # amount or currency differs from what we issued
    EXPIRED = "expired"
    PAID = "paid"  # this invoice was paid already
    CLOSED = "closed"  # top-ups by this method are switched off, or out of the limits now


# --- pricing ----------------------------------------------------------------------------


def stars_for(amount: Decimal, stars_per_unit: Decimal) -> int:
    """Whole Stars for a top-up of `amount` (rounded up: the panel never gives away a part)."""
    return max(1, math.ceil(amount * stars_per_unit))


def payload_of(payment: Payment) -> str:
    return PAYLOAD_PREFIX + payment.token


def token_of(payload: str | None) -> str | None:
    """The token inside an invoice payload of ours, or None for anything else."""
    if not payload or not payload.startswith(PAYLOAD_PREFIX):
        return None
    token = payload.removeprefix(PAYLOAD_PREFIX)
    return token if 0 < len(token) <= 32 and token.isalnum() else None


def ledger_key(method: str, external_id: str) -> str:
    return f"payment:{method}:{external_id}"[:128]


def refund_ledger_key(method: str, external_id: str) -> str:
    return f"payment_refund:{method}:{external_id}"[:128]


# --- invoices ---------------------------------------------------------------------------


async def open_invoice(
    session: AsyncSession,
    *,
    user_id: int,
    chat_id: int | None,
    method: PaymentMethod,
    amount: Decimal,
    currency: str,
    price: Decimal,
    price_currency: str,
    lifetime: timedelta,
) -> Payment:
    """A pending payment: what the customer will pay (`price`) and get (`amount`)."""
    async with write_tx(session):
        payment = Payment(
            user_id=user_id,
            chat_id=chat_id,
            method=method,
            status=PaymentStatus.PENDING,
            amount=money(amount),
            currency=currency,
            price=money(price),
            price_currency=price_currency,
            token=secrets.token_hex(8),
            expires_at=utcnow() + lifetime,
        )
        session.add(payment)
    return payment


async def check_stars_checkout(
    session: AsyncSession,
    *,
    user_id: int,
    payload: str,
    currency: str,
    total_amount: int,
    open_for_topups: bool,
    limits: tuple[Decimal, Decimal],
) -> CheckoutRefusal | None:
    """None when Telegram may take this payment: our invoice, this customer, the amount we
    issued, still valid, and top-ups with Stars still allowed. A read only: fast enough for
    Telegram's 10 seconds."""
    payment = await invoice_of(session, payload)
    refusal = _stars_refusal(payment, user_id, currency, total_amount)
    if refusal is not None or payment is None:
        return refusal or CheckoutRefusal.UNKNOWN
    if payment.status not in (PaymentStatus.PENDING, PaymentStatus.EXPIRED):
        return CheckoutRefusal.PAID
    if payment.status == PaymentStatus.EXPIRED or payment.expires_at <= utcnow():
        return CheckoutRefusal.EXPIRED
    low, high = limits
    if not open_for_topups or not low <= payment.amount <= high:
        return CheckoutRefusal.CLOSED
    return None


# --- the credit -------------------------------------------------------------------------


async def credit_topup(session: AsyncSession, payment: Payment) -> LedgerEntry:
    """Put a claimed payment's amount on the customer's balance, in the caller's transaction.

    The one place a paid top-up becomes money: everything that belongs to a top-up (the
    receipt, a referral bonus) hooks in here, inside the same transaction, so it happens
    exactly when the credit does.
    """
    assert payment.user_id is not None and payment.external_id is not None
    entry = await billing.credit(
        session,
        payment.user_id,
        payment.amount,
        key=ledger_key(payment.method, payment.external_id),
        kind=LedgerKind.PAYMENT,  # the key carries the charge / invoice id
    )
    notify.enqueue(
        session,
        payment.user_id,
        PAYMENT_RECEIVED,
        {
            "payment_id": payment.id,
            "method": payment.method,
            "amount": str(payment.amount),
            "balance": str(entry.balance_after),
            "currency": payment.currency,
        },
        dedupe_key=f"payment:{payment.id}:paid",
    )
    metrics.balance_credited(payment.method, payment.amount)
    # The referrer's share, keyed by this credit's own key: once per payment.
    await referrals.credit_for_topup(
        session, payment.user_id, payment.amount, topup_key=entry.idempotency_key
    )
    return entry


async def claim_paid(
    session: AsyncSession,
    payment: Payment,
    external_id: str,
    *,
    paid_asset: str | None = None,
    paid_amount: str | None = None,
) -> bool:
    """pending/expired/failed → paid, once: of two concurrent claims one wins (on PostgreSQL
    the second waits for the first's commit, then finds the row paid)."""
    now = utcnow()
    claimed = await session.scalar(
        update(Payment)
        .where(Payment.id == payment.id, Payment.status.in_(CLAIMABLE))
        .values(
            status=PaymentStatus.PAID,
            external_id=external_id,
            paid_at=now,
            paid_asset=paid_asset,
            paid_amount=paid_amount,
            updated_at=now,
        )
        .returning(Payment.id)
    )
    if claimed is None:
        return False
    await session.refresh(payment)
    return True


async def invoice_of(
    session: AsyncSession, payload: str | None, method: str | None = None
) -> Payment | None:
    """The payment whose token an invoice payload carries (of `method`, if given)."""
    token = token_of(payload)
    if token is None:
        return None
    query = select(Payment).where(Payment.token == token)
    if method is not None:
        query = query.where(Payment.method == method)
    return await session.scalar(query)


async def find_payment(session: AsyncSession, method: str, external_id: str) -> Payment | None:
    return await session.scalar(
        select(Payment).where(Payment.method == method, Payment.external_id == external_id)
    )


async def keep_unmatched(
    session: AsyncSession,
    admin_ids: frozenset[int],
    *,
    method: str,
    external_id: str,
    user_id: int | None,
    price: Decimal,
    price_currency: str,
    reason: str,
    currency: str,
) -> Payment:
    """Keep money that fits no invoice of ours, and tell the admins (once: the row is
    unique per payment, so a repeat ends in the duplicate path instead)."""
    payment = Payment(
        user_id=user_id,
        method=method,
        status=PaymentStatus.UNMATCHED,
        amount=ZERO,
        currency=currency,
        price=price,
        price_currency=price_currency[:8],
        token=secrets.token_hex(8),
        external_id=external_id,
        expires_at=utcnow(),
        paid_at=utcnow(),
        note=reason,
    )
    session.add(payment)
    await session.flush()
    await raise_alert(
        session,
        admin_ids,
        alerts.payment_unmatched(method, external_id, user_id, price, price_currency, reason),
    )
    return payment


async def record_stars_payment(
    session: AsyncSession,
    *,
    user_id: int,
    payload: str,
    charge_id: str,
    currency: str,
    total_amount: int,
    panel_currency: str,
    admin_ids: frozenset[int],
) -> CreditOutcome:
    """Telegram's successful_payment: credit the invoice it paid, exactly once per charge."""
    charge_id = charge_id[:128]
    method = PaymentMethod.STARS
    try:
        async with write_tx(session):
            if await find_payment(session, method, charge_id) is not None:
                return CreditOutcome(Credit.DUPLICATE)
            payment = await invoice_of(session, payload)
            reason = _stars_mismatch(payment, user_id, currency, total_amount)
            if reason is None and payment is not None:
                if await claim_paid(session, payment, charge_id):
                    entry = await credit_topup(session, payment)
                    return CreditOutcome(Credit.CREDITED, payment, entry)
                if await find_payment(session, method, charge_id) is not None:
                    return CreditOutcome(Credit.DUPLICATE)  # a concurrent delivery won
                reason = "invoice already paid by another charge"
            kept = await keep_unmatched(
                session,
                admin_ids,
                method=method,
                external_id=charge_id,
                user_id=user_id,
                price=Decimal(total_amount),
                price_currency=currency,
                reason=reason or "unknown invoice",
                currency=panel_currency,
            )
            return CreditOutcome(Credit.UNMATCHED, kept)
    except IntegrityError:  # the same charge committed by another replica meanwhile
        await session.rollback()
        return CreditOutcome(Credit.DUPLICATE)


def _stars_refusal(
    payment: Payment | None, user_id: int, currency: str, total_amount: int
) -> CheckoutRefusal | None:
    """A Stars payment fits `payment`: our Stars invoice, this customer, the amount issued."""
    if payment is None or payment.method != PaymentMethod.STARS:
        return CheckoutRefusal.UNKNOWN
    if payment.user_id != user_id:
        return CheckoutRefusal.OTHER_USER
    if currency != STARS_CURRENCY or Decimal(total_amount) != payment.price:
        return CheckoutRefusal.CHANGED
    return None


def _stars_mismatch(
    payment: Payment | None, user_id: int, currency: str, total_amount: int
) -> str | None:
    """Why a paid Stars payment fits no invoice, for the admins (None when it fits)."""
    refusal = _stars_refusal(payment, user_id, currency, total_amount)
    if refusal is None:
        return None
    if payment is not None and refusal == CheckoutRefusal.OTHER_USER:
        return f"invoice of user {payment.user_id}"
    if payment is not None and refusal == CheckoutRefusal.CHANGED:
        return f"amount {total_amount} {currency} instead of {payment.price:f} XTR"
    return "unknown invoice"
