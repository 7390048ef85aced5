"""The owner's audit (core.money_audit, `python -m bot check-db`): clean books pass, and
each kind of broken row is named, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import billing, lifecycle
from core.money_audit import (
    BalanceMismatch,
    MoneyAudit,
    NegativeBalance,
    RefundProblem,
    audit_money,
)
from core.ordering import OrderDraft, place_order
from core.statuses import LedgerKind
from db.engine import write_tx
from db.models import LedgerEntry, Order, User
from tests.harness import seed
from tests.harness.databases import BACKENDS
from tests.harness.ledger import give_money

ALICE, BOB, CAROL = 1001, 1002, 1003


async def books(sm: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    """Three customers with money, an order each for Alice and Bob, Alice's half refunded
    (the real ledger paths); returns the two order ids."""
    for user_id in (ALICE, BOB, CAROL):
        await give_money(sm, user_id, "10")
    async with sm() as session, write_tx(session):
        service = (await seed.service(session, price=Decimal("2.00"))).id
    ids = []
    for user_id in (ALICE, BOB):
        async with sm() as session:
            draft = OrderDraft(service, "https://instagram.com/alice", 1000)
            placed = await place_order(session, user_id, draft, key=f"k{user_id}")
            ids.append(placed.order.id)
    async with sm() as session, write_tx(session):
        order = await session.get(Order, ids[0])
        assert order is not None
        implied = Decimal("1.00")  # partial: half of the 2.00 charge
        await lifecycle.change_status(
            session,
            order,
            "partial",
            service_name="Followers",
            implied=implied,
            refund_reason="partial",
        )
    return ids[0], ids[1]


async def audit(sm: async_sessionmaker[AsyncSession]) -> MoneyAudit:
    async with sm() as session:
        return await audit_money(session)


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
async def test_clean_books_pass_and_each_broken_rule_is_named(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    refunded, charged = await books(sessionmaker)
    clean = await audit(sessionmaker)
    assert clean.clean
    assert (clean.users, clean.orders, clean.ledger_rows) == (3, 2, 6)

    async with sessionmaker() as session, write_tx(session):
        # Alice: a balance changed behind the ledger's back.
        await session.execute(
            update(User).where(User.id == ALICE).values(balance=User.balance + Decimal(5))
        )
        # Carol: a debit below zero, written with its ledger row (consistent, but negative).
        await session.execute(update(User).where(User.id == CAROL).values(balance=Decimal("-2.50")))
        session.add(
            LedgerEntry(user_id=CAROL, kind=LedgerKind.ADMIN_DEBIT, amount=Decimal("-12.50"),
                        balance_after=Decimal("-2.50"), idempotency_key="broken:carol")
        )  # fmt: skip
        # Bob's order: a second refund beyond its 2.00 charge, balance and order updated.
        await billing.refund(session, BOB, charged, Decimal("3.00"), reason="failed")
        await session.execute(
            update(Order).where(Order.id == charged).values(refunded=Decimal("3.00"))
        )
        # Alice's order: its refunded says 1.50, the ledger 1.00.
        await session.execute(
            update(Order).where(Order.id == refunded).values(refunded=Decimal("1.50"))
        )
    report = await audit(sessionmaker)
    assert not report.clean
    assert report.mismatches == [
        BalanceMismatch(ALICE, Decimal("14.00"), Decimal("9.00"))  # 10 − 2 + 1, then +5
    ]
    assert report.negative == [NegativeBalance(CAROL, Decimal("-2.50"))]
    assert report.refunds == [
        RefundProblem(refunded, ALICE, Decimal("2.00"), Decimal("1.50"), Decimal("1.00")),
        RefundProblem(charged, BOB, Decimal("2.00"), Decimal("3.00"), Decimal("3.00")),
    ]
