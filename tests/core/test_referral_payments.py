"""A referred customer's paid top-ups credit the referrer once per payment, on SQLite and
PostgreSQL: the same charge delivered again, or four deliveries at once (replicas), credit
one bonus, each a ledger row of its own in the payment's transaction."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import panel_settings, referrals
from core.payments import Credit, open_invoice, payload_of, record_stars_payment
from core.statuses import LedgerKind, PaymentMethod
from db.engine import write_tx
from db.models import LedgerEntry, Notification, Payment, User
from tests.harness.databases import BACKENDS
from tests.harness.ledger import balance

ALICE, BOB = 1001, 1002
pytestmark = pytest.mark.parametrize("database_url", BACKENDS, indirect=True)


@pytest.fixture
async def sm(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> async_sessionmaker[AsyncSession]:
    """Alice and Bob (Bob invited by Alice, 10 % referral bonus), on SQLite and on PostgreSQL."""
    async with sessionmaker() as session, write_tx(session):
        session.add_all([User(id=ALICE, first_name="Alice"), User(id=BOB, first_name="Bob")])
    async with sessionmaker() as session:
        await panel_settings.store(session, referrals.env_defaults(Decimal(10), False), env=True)
        assert await referrals.attribute(session, BOB, referrals.referral_code(ALICE)) == ALICE
    return sessionmaker


async def pay(sm: async_sessionmaker[AsyncSession], amount: str, charge: str) -> Credit:
    async with sm() as session:
        payment = await open_invoice(
            session, user_id=BOB, chat_id=BOB, method=PaymentMethod.STARS,
            amount=Decimal(amount), currency="USD", price=Decimal(100), price_currency="XTR",
            lifetime=timedelta(hours=1),
        )  # fmt: skip
        return await deliver(sm, payload_of(payment), charge)


async def deliver(sm: async_sessionmaker[AsyncSession], payload: str, charge: str) -> Credit:
    async with sm() as session:
        outcome = await record_stars_payment(
            session, user_id=BOB, payload=payload, charge_id=charge, currency="XTR",
            total_amount=100, panel_currency="USD", admin_ids=frozenset({9001}),
        )  # fmt: skip
        return outcome.result


async def bonuses(sm: async_sessionmaker[AsyncSession]) -> list[LedgerEntry]:
    async with sm() as session:
        rows = await session.scalars(
            select(LedgerEntry).where(LedgerEntry.kind == LedgerKind.REFERRAL)
        )
        return list(rows)


async def test_a_payment_delivered_twice_credits_the_referrer_once(sm) -> None:
    assert await pay(sm, "25", "stxONE") == Credit.CREDITED
    [bonus] = await bonuses(sm)
    assert (bonus.user_id, bonus.amount) == (ALICE, Decimal("2.5"))
    assert "stxONE" in bonus.idempotency_key
    async with sm() as session:
        payload = await session.scalar(
            select(Notification.payload).where(Notification.kind == referrals.BONUS)
        )
        payment_payload = payload_of(await session.scalar(select(Payment)))
    assert payload["amount"] == "2.50000000" and payload["name"] == "Bob"
    assert await deliver(sm, payment_payload, "stxONE") == Credit.DUPLICATE
    assert len(await bonuses(sm)) == 1
    assert await balance(sm, ALICE) == Decimal("2.5")
    assert await balance(sm, BOB) == Decimal(25)


async def test_concurrent_deliveries_and_a_second_payment(sm) -> None:
    async with sm() as session:
        payment = await open_invoice(
            session, user_id=BOB, chat_id=BOB, method=PaymentMethod.STARS, amount=Decimal(10),
            currency="USD", price=Decimal(100), price_currency="XTR", lifetime=timedelta(hours=1),
        )  # fmt: skip
    results = await asyncio.gather(*(deliver(sm, payload_of(payment), "stxRACE") for _ in range(4)))
    assert sorted(results) == sorted([Credit.CREDITED] + [Credit.DUPLICATE] * 3)
    assert [b.amount for b in await bonuses(sm)] == [Decimal(1)]
    assert await pay(sm, "7.77", "stxTWO") == Credit.CREDITED  # another payment: its own bonus
    assert sorted(b.amount for b in await bonuses(sm)) == [Decimal("0.777"), Decimal(1)]
    assert await balance(sm, ALICE) == Decimal("1.777")


async def test_no_referrer_or_zero_percent_credits_nothing(sm) -> None:
    async with sm() as session:
        await referrals.set_terms(session, percent=Decimal(0))
    assert await pay(sm, "10", "stxZERO") == Credit.CREDITED
    assert await bonuses(sm) == []
