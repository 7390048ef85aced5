"""Top-ups in core on SQLite and PostgreSQL: the credit happens exactly once per payment
(repeats, concurrent deliveries, webhook + poll), pre-checkout refusals, unmatched money,
expiry, and Stars refunds that never take what was spent."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import billing
from core.cryptopay_payments import PaidInvoice, record_crypto_payment
from core.payment_admin import (
    RefundRefused,
    begin_refund,
    cancel_refund,
    finish_refund,
    payment_totals,
)
from core.payment_sync import expire_overdue
from core.payments import (
    CheckoutRefusal,
    Credit,
    check_stars_checkout,
    open_invoice,
    payload_of,
    record_stars_payment,
    stars_for,
)
from core.statuses import PaymentMethod, PaymentStatus
from db.engine import write_tx
from db.models import LedgerEntry, Notification, Payment, User
from db.types import utcnow
from tests.harness.databases import BACKENDS
from tests.harness.ledger import balance

ALICE, BOB = 1001, 1002
ADMINS = frozenset({9001})
LIMITS = (Decimal(1), Decimal(1000))
pytestmark = pytest.mark.parametrize("database_url", BACKENDS, indirect=True)


@pytest.fixture
async def sm(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> async_sessionmaker[AsyncSession]:
    """Alice and Bob, on SQLite and on PostgreSQL."""
    async with sessionmaker() as session, write_tx(session):
        session.add_all([User(id=ALICE, first_name="Alice"), User(id=BOB, first_name="Bob")])
    return sessionmaker


async def stars_invoice(
    sm: async_sessionmaker[AsyncSession], amount: str = "10", user_id: int = ALICE, **kw: object
) -> Payment:
    async with sm() as session:
        return await open_invoice(
            session,
            user_id=user_id,
            chat_id=user_id,
            method=PaymentMethod.STARS,
            amount=Decimal(amount),
            currency="USD",
            price=Decimal(stars_for(Decimal(amount), Decimal(75))),
            price_currency="XTR",
            lifetime=kw.get("lifetime", timedelta(hours=1)),  # type: ignore[arg-type]
        )


async def paid_stars(
    sm: async_sessionmaker[AsyncSession],
    payment: Payment,
    charge: str,
    *,
    user_id: int = ALICE,
    total: int | None = None,
) -> Credit:
    async with sm() as session:
        outcome = await record_stars_payment(
            session,
            user_id=user_id,
            payload=payload_of(payment),
            charge_id=charge,
            currency="XTR",
            total_amount=int(payment.price) if total is None else total,
            panel_currency="USD",
            admin_ids=ADMINS,
        )
        return outcome.result


async def count(
    sm: async_sessionmaker[AsyncSession], *where: object, model: type = Notification
) -> int:
    async with sm() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0


async def test_stars_payment_credits_once_however_often_it_arrives(sm) -> None:
    payment = await stars_invoice(sm, "10")
    assert payment.price == 750
    assert await paid_stars(sm, payment, "stxA") == Credit.CREDITED
    assert await paid_stars(sm, payment, "stxA") == Credit.DUPLICATE
    assert await balance(sm, ALICE) == Decimal("10")
    async with sm() as session:
        [entry] = await session.scalars(select(LedgerEntry).where(LedgerEntry.user_id == ALICE))
        assert entry.kind == "payment" and "stxA" in entry.idempotency_key
        stored = await session.get(Payment, payment.id)
        assert stored is not None and stored.status == "paid" and stored.external_id == "stxA"
    assert await count(sm, Notification.kind == "payment_received") == 1


async def test_two_concurrent_deliveries_credit_once(sm) -> None:
    payment = await stars_invoice(sm, "25")
    results = await asyncio.gather(*(paid_stars(sm, payment, "stxRACE") for _ in range(4)))
    assert sorted(results) == sorted([Credit.CREDITED] + [Credit.DUPLICATE] * 3)
    assert await balance(sm, ALICE) == Decimal("25")
    assert await count(sm, Notification.kind == "payment_received") == 1


async def test_payment_matching_no_invoice_is_kept_and_alerted_once(sm) -> None:
    payment = await stars_invoice(sm, "10")
    # another customer pays with Alice's payload, and a payload we never issued
    assert await paid_stars(sm, payment, "stxBOB", user_id=BOB) == Credit.UNMATCHED
    assert await paid_stars(sm, payment, "stxBOB", user_id=BOB) == Credit.DUPLICATE
    assert await paid_stars(sm, payment, "stxLESS", total=10) == Credit.UNMATCHED
    assert await balance(sm, ALICE) == 0 and await balance(sm, BOB) == 0
    alerts = await count(sm, Notification.kind == "admin_alert")
    assert alerts == 2
    # the invoice itself can still be paid properly
    assert await paid_stars(sm, payment, "stxOK") == Credit.CREDITED
    assert await balance(sm, ALICE) == Decimal("10")


async def test_pre_checkout_checks_invoice_user_amount_expiry_and_method(sm) -> None:
    payment = await stars_invoice(sm, "10")
    old = await stars_invoice(sm, "5", lifetime=timedelta(seconds=-1))

    async def check(p: Payment, user: int = ALICE, total: int | None = None, **kw: object):
        async with sm() as session:
            return await check_stars_checkout(
                session,
                user_id=user,
                payload=payload_of(p) if p is not None else "something-else",
                currency=str(kw.get("currency", "XTR")),
                total_amount=int(p.price) if total is None else total,
                open_for_topups=bool(kw.get("open", True)),
                limits=kw.get("limits", LIMITS),  # type: ignore[arg-type]
            )

    assert await check(payment) is None
    assert await check(payment, user=BOB) == CheckoutRefusal.OTHER_USER
    assert await check(payment, total=1) == CheckoutRefusal.CHANGED
    assert await check(payment, currency="USD") == CheckoutRefusal.CHANGED
    assert await check(old) == CheckoutRefusal.EXPIRED
    assert await check(payment, open=False) == CheckoutRefusal.CLOSED
    assert await check(payment, limits=(Decimal(1), Decimal(5))) == CheckoutRefusal.CLOSED
    async with sm() as session:
        assert (
            await check_stars_checkout(
                session,
                user_id=ALICE,
                payload="topup:doesnotexist",
                currency="XTR",
                total_amount=750,
                open_for_topups=True,
                limits=LIMITS,
            )
            == CheckoutRefusal.UNKNOWN
        )
    await paid_stars(sm, payment, "stxP")
    assert await check(payment) == CheckoutRefusal.PAID


async def crypto_invoice(sm, amount: str = "10", external_id: str | None = "501") -> Payment:
    async with sm() as session:
        payment = await open_invoice(
            session,
            user_id=ALICE,
            chat_id=ALICE,
            method=PaymentMethod.CRYPTOPAY,
            amount=Decimal(amount),
            currency="USD",
            price=Decimal(amount),
            price_currency="USD",
            lifetime=timedelta(hours=1),
        )
        if external_id is not None:
            async with write_tx(session):
                stored = await session.get(Payment, payment.id)
                assert stored is not None
                stored.external_id = external_id
        return payment


async def crypto_paid(sm, invoice_id: str, amount: str, payload: str | None) -> Credit:
    async with sm() as session:
        outcome = await record_crypto_payment(
            session,
            PaidInvoice(invoice_id, amount, "USD", payload, "USDT", "10.01"),
            panel_currency="USD",
            admin_ids=ADMINS,
        )
        return outcome.result


async def test_crypto_invoice_credited_once_by_webhook_and_poll_together(sm) -> None:
    payment = await crypto_invoice(sm, "10")
    results = await asyncio.gather(
        crypto_paid(sm, "501", "10", payload_of(payment)),
        crypto_paid(sm, "501", "10.00", payload_of(payment)),
    )
    assert sorted(results) == [Credit.CREDITED, Credit.DUPLICATE]
    assert await crypto_paid(sm, "501", "10", payload_of(payment)) == Credit.DUPLICATE
    assert await balance(sm, ALICE) == Decimal("10")


async def test_crypto_invoice_created_despite_a_timeout_is_matched_by_its_payload(sm) -> None:
    payment = await crypto_invoice(sm, "12.5", external_id=None)
    assert await crypto_paid(sm, "777", "12.5", payload_of(payment)) == Credit.CREDITED
    assert await balance(sm, ALICE) == Decimal("12.5")
    assert await crypto_paid(sm, "888", "3", None) == Credit.UNMATCHED  # not ours at all
    assert await crypto_paid(sm, "888", "3", None) == Credit.DUPLICATE


async def test_expired_invoice_marked_customer_told_and_a_late_payment_still_counts(sm) -> None:
    stars = await stars_invoice(sm, "10", lifetime=timedelta(seconds=-1))
    crypto = await crypto_invoice(sm, "10")
    async with sm() as session:
        assert await expire_overdue(session) == 1  # crypto waits for its service's answer
        assert await expire_overdue(session, utcnow() + timedelta(hours=2)) == 1
        assert await expire_overdue(session, utcnow() + timedelta(hours=2)) == 0
    assert await count(sm, Notification.kind == "payment_expired") == 2
    assert await crypto_paid(sm, "501", "10", payload_of(crypto)) == Credit.CREDITED
    assert await balance(sm, ALICE) == Decimal("10")
    async with sm() as session:
        stored = await session.get(Payment, stars.id)
        assert stored is not None and stored.status == PaymentStatus.EXPIRED


async def test_refund_refused_when_spent_and_debited_once_when_done(sm) -> None:
    payment = await stars_invoice(sm, "10")
    await paid_stars(sm, payment, "stxR")
    async with sm() as session, write_tx(session):
        await billing.debit(session, ALICE, Decimal("4"), key="spend")
    async with sm() as session:
        with pytest.raises(RefundRefused) as refused:
            await begin_refund(session, "stxR")
        assert refused.value.code == "spent"
    async with sm() as session, write_tx(session):
        await billing.credit(session, ALICE, Decimal("4"), key="back")
    async with sm() as session:
        started_id = (await begin_refund(session, "stxR")).id
        with pytest.raises(RefundRefused) as twice:
            await begin_refund(session, "stxR")
        assert twice.value.code == "in_progress"
        async with write_tx(session):  # the admin's refund was cut off long ago (a restart)
            stuck = await session.get(Payment, started_id)
            assert stuck is not None
            stuck.updated_at = utcnow() - timedelta(minutes=10)
        assert (await begin_refund(session, "stxR")).id == started_id  # may be resumed
        await cancel_refund(session, started_id)  # Telegram said no: nothing debited
        assert await balance(sm, ALICE) == Decimal("10")
        started = await begin_refund(session, "stxR")
        done = await finish_refund(session, started.id, admin_id=9001)
        assert done.debited == Decimal("10") and done.shortfall == 0
        with pytest.raises(RefundRefused) as again:
            await begin_refund(session, "stxR")
        assert again.value.code == "refunded"
        with pytest.raises(RefundRefused) as unknown:
            await begin_refund(session, "nope")
        assert unknown.value.code == "not_found"
        totals = await payment_totals(session, None)
        assert totals.by_method == {"stars": (1, Decimal("10"))}
        assert totals.refunded == Decimal("10")
    assert await balance(sm, ALICE) == 0


async def test_two_admins_refunding_at_once_start_one_refund(sm) -> None:
    payment = await stars_invoice(sm, "10")
    await paid_stars(sm, payment, "stxTWO")

    async def begin() -> str:
        async with sm() as session:
            try:
                await begin_refund(session, "stxTWO")
            except RefundRefused as refused:
                return refused.code
            return "started"

    assert sorted(await asyncio.gather(begin(), begin())) == ["in_progress", "started"]
