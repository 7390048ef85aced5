"""The owner's audit of the books (`python -m bot check-db`): the money rules of SPEC §7 that
the database itself can prove or disprove.

- every balance equals the sum of its owner's ledger rows, and none is negative;
- no order got back more than it was charged, and its `refunded` agrees with the ledger's
  refund rows for it.

Each rule is one grouped aggregate query (no per-user loop), so the audit reads the tables
once whatever their size. Each query is a single statement, hence one consistent snapshot:
it can run while the bot runs (a debit or refund writes its balance and its ledger row in
one transaction).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.statuses import LedgerKind
from db.models import LedgerEntry, Order, User


@dataclass(frozen=True)
class BalanceMismatch:
    user_id: int
    balance: Decimal
    ledger: Decimal  # the sum of the user's ledger rows


@dataclass(frozen=True)
class NegativeBalance:
    user_id: int
    balance: Decimal


@dataclass(frozen=True)
class RefundProblem:
    order_id: int
    user_id: int
    charge: Decimal
    refunded: Decimal  # the order's own `refunded`
    ledger_refunds: Decimal  # the refund rows written for it


@dataclass
class MoneyAudit:
    users: int = 0
    orders: int = 0
    ledger_rows: int = 0
    mismatches: list[BalanceMismatch] = field(default_factory=list)
    negative: list[NegativeBalance] = field(default_factory=list)
    refunds: list[RefundProblem] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.mismatches or self.negative or self.refunds)


async def audit_money(session: AsyncSession) -> MoneyAudit:
    """Every rule checked over the whole database; problems listed by user or order id."""
    report = MoneyAudit()
    report.users = await session.scalar(select(func.count()).select_from(User)) or 0
    report.orders = await session.scalar(select(func.count()).select_from(Order)) or 0
    report.ledger_rows = await session.scalar(select(func.count()).select_from(LedgerEntry)) or 0

    sums = (
        select(LedgerEntry.user_id, func.sum(LedgerEntry.amount).label("total"))
        .group_by(LedgerEntry.user_id)
        .subquery()
    )
    ledger = func.coalesce(sums.c.total, 0)
    rows = await session.execute(
        select(User.id, User.balance, ledger)
        .outerjoin(sums, sums.c.user_id == User.id)
        .where(or_(User.balance != ledger, User.balance < 0))
        .order_by(User.id)
    )
    for user_id, balance, total in rows:
        if balance != total:
            report.mismatches.append(BalanceMismatch(user_id, balance, total))
        if balance < 0:
            report.negative.append(NegativeBalance(user_id, balance))

    refunds = (
        select(LedgerEntry.order_id, func.sum(LedgerEntry.amount).label("total"))
        .where(LedgerEntry.kind == LedgerKind.REFUND, LedgerEntry.order_id.is_not(None))
        .group_by(LedgerEntry.order_id)
        .subquery()
    )
    refunded = func.coalesce(refunds.c.total, 0)
    rows = await session.execute(
        select(Order.id, Order.user_id, Order.charge, Order.refunded, refunded)
        .outerjoin(refunds, refunds.c.order_id == Order.id)
        .where(
            or_(refunded > Order.charge, Order.refunded > Order.charge, Order.refunded != refunded)
        )
        .order_by(Order.id)
    )
    report.refunds = [RefundProblem(*row) for row in rows]
    return report
