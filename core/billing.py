"""Balances and the ledger.

Every balance change is a ledger row written in the caller's transaction, next to a
conditional UPDATE of the balance: a debit never drives a balance negative, whatever the
concurrency, and an idempotency key makes each operation happen at most once.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import bindparam, case, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.money import ZERO, money
from core.statuses import LedgerKind
from db.models import LedgerEntry, User
from db.types import Money, utcnow

# The statements of every balance change, built once (a statement built per call costs more
# Python than its trip to the database): the balance moved (a debit only if it covers it)
# and the ledger row.
_users, _ledger = User.__table__, LedgerEntry.__table__
_ADD = (
    update(_users)
    .where(_users.c.id == bindparam("user"))
    .values(balance=_users.c.balance + bindparam("amount", type_=Money()))
    .returning(_users.c.balance)
)
_TAKE = _ADD.where(_users.c.balance >= bindparam("needed", type_=Money()))
_WRITE_ENTRY = insert(_ledger).returning(_ledger.c.id)


class BillingError(Exception):
    pass


class InsufficientFunds(BillingError):
    def __init__(self, balance: Decimal, needed: Decimal) -> None:
        super().__init__(f"balance {balance} is below {needed}")
        self.balance = balance
        self.needed = needed

    @property
    def missing(self) -> Decimal:
        return self.needed - self.balance


class UnknownUser(BillingError):
    pass


async def find_entry(session: AsyncSession, key: str) -> LedgerEntry | None:
    return await session.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key == key))


async def _apply(
    session: AsyncSession,
    user_id: int,
    amount: Decimal,
    *,
    kind: str,
    key: str,
    order_id: int | None,
    admin_id: int | None,
    note: str | None,
    fresh: bool = False,
) -> LedgerEntry:
    """Move `amount` (signed) into the balance once per key; returns the ledger row.

    A repeated key returns the row written the first time and changes nothing. Two
    concurrent writers of the same key cannot both commit: the unique key rejects the second.
    """
    existing = None if fresh else await find_entry(session, key)
    if existing is not None:
        return existing
    moved = {"user": user_id, "amount": amount}
    if amount < 0:
        new_balance = await session.scalar(_TAKE, {**moved, "needed": -amount})
    else:
        new_balance = await session.scalar(_ADD, moved)
    if new_balance is None:
        balance = await session.scalar(select(User.balance).where(User.id == user_id))
        if balance is None:
            raise UnknownUser(user_id)
        raise InsufficientFunds(balance, -amount)
    row = {
        "user_id": user_id,
        "kind": kind,
        "amount": amount,
        "balance_after": new_balance,
        "order_id": order_id,
        "admin_id": admin_id,
        "note": note,
        "idempotency_key": key,
        "created_at": utcnow(),
    }
    entry_id = await session.scalar(_WRITE_ENTRY, row)
    # The row as written (not attached to the session: read it, never add it).
    return LedgerEntry(id=entry_id, **row)


async def credit(
    session: AsyncSession,
    user_id: int,
    amount: Decimal,
    *,
    key: str,
    kind: LedgerKind = LedgerKind.TOPUP,
    order_id: int | None = None,
    admin_id: int | None = None,
    note: str | None = None,
) -> LedgerEntry:
    amount = money(amount)
    if amount <= 0:
        raise BillingError("a credit must be positive")
    return await _apply(
        session,
        user_id,
        amount,
        kind=kind,
        key=key,
        order_id=order_id,
        admin_id=admin_id,
        note=note,
    )


async def debit(
    session: AsyncSession,
    user_id: int,
    amount: Decimal,
    *,
    key: str,
    kind: LedgerKind = LedgerKind.ORDER_CHARGE,
    order_id: int | None = None,
    admin_id: int | None = None,
    note: str | None = None,
    fresh: bool = False,
) -> LedgerEntry:
    """Take `amount` if the balance covers it, else raise InsufficientFunds (nothing written).

    `fresh`: the key cannot have been used yet (the charge of an order created in this
    transaction), so it is not looked up first; the unique key still guards it.
    """
    amount = money(amount)
    if amount <= 0:
        raise BillingError("a debit must be positive")
    return await _apply(
        session,
        user_id,
        -amount,
        kind=kind,
        key=key,
        order_id=order_id,
        admin_id=admin_id,
        note=note,
        fresh=fresh,
    )


def refund_key(order_id: int, reason: str) -> str:
    """One refund per order and reason ("partial", "canceled", "failed", "admin")."""
    return f"refund:{order_id}:{reason}"


async def refund(
    session: AsyncSession,
    user_id: int,
    order_id: int,
    amount: Decimal,
    *,
    reason: str,
    admin_id: int | None = None,
    note: str | None = None,
) -> LedgerEntry | None:
    """Give `amount` back for an order, exactly once per (order, reason).

    Returns the new ledger row, or None when nothing was refunded now: a zero amount, or a
    reason already refunded for this order (a status seen twice, a retry, a restart).
    """
    amount = money(amount)
    key = refund_key(order_id, reason)
    if amount <= ZERO or await find_entry(session, key) is not None:
        return None
    return await _apply(
        session,
        user_id,
        amount,
        kind=LedgerKind.REFUND,
        key=key,
        order_id=order_id,
        admin_id=admin_id,
        note=note,
        fresh=True,  # looked up just above
    )


@dataclass(frozen=True, slots=True)
class Refund:
    user_id: int
    order_id: int
    amount: Decimal
    reason: str  # as for refund(): one refund per order and reason

    @property
    def key(self) -> str:
        return refund_key(self.order_id, self.reason)


async def refund_many(session: AsyncSession, refunds: list[Refund]) -> set[Refund]:
    """refund() for many orders at once (status sync's chunks), in a few statements: one
    read of the keys already used, one balance UPDATE for all the customers, the ledger rows
    in one INSERT, each row's balance_after as if they had been written one by one. Each
    key at most once, as refund(); returns the refunds written now."""
    due = {r.key: r for r in refunds if money(r.amount) > ZERO}
    if not due:
        return set()
    used = await session.scalars(
        select(LedgerEntry.idempotency_key).where(LedgerEntry.idempotency_key.in_(list(due)))
    )
    for key in used:
        del due[key]
    if not due:
        return set()
    totals: dict[int, Decimal] = {}
    for r in due.values():
        totals[r.user_id] = totals.get(r.user_id, ZERO) + money(r.amount)
    users = User.__table__
    added = case(
        {user_id: literal(total, users.c.balance.type) for user_id, total in totals.items()},
        value=users.c.id,
    )
    updated = await session.execute(
        update(users)
        .where(users.c.id.in_(list(totals)))
        .values(balance=users.c.balance + added)
        .returning(users.c.id, users.c.balance)
    )
    balances: dict[int, Decimal] = {user_id: balance for user_id, balance in updated}
    if len(balances) != len(totals):
        raise UnknownUser(next(u for u in totals if u not in balances))
    running = {user_id: balances[user_id] - total for user_id, total in totals.items()}
    rows = []
    for key, r in due.items():
        amount = money(r.amount)
        running[r.user_id] += amount
        rows.append(
            {
                "user_id": r.user_id, "kind": LedgerKind.REFUND, "amount": amount,
                "balance_after": running[r.user_id], "order_id": r.order_id,
                "idempotency_key": key,
            }
        )  # fmt: skip
    await session.execute(insert(LedgerEntry.__table__), rows)
    return set(due.values())


async def ledger_sum(session: AsyncSession, user_id: int) -> Decimal:
    total = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(LedgerEntry.user_id == user_id)
    )
    return money(total or ZERO)


async def recent_entries(session: AsyncSession, user_id: int, limit: int = 10) -> list[LedgerEntry]:
    rows = await session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.user_id == user_id)
        .order_by(LedgerEntry.id.desc())
        .limit(limit)
    )
    return list(rows)


async def order_refunds(session: AsyncSession, order_id: int) -> list[LedgerEntry]:
    """The refunds given for an order, oldest first."""
    rows = await session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.order_id == order_id, LedgerEntry.kind == LedgerKind.REFUND)
        .order_by(LedgerEntry.id)
    )
    return list(rows)


def refund_reason(entry: LedgerEntry) -> str:
    """Why a refund row was written ("partial", "canceled", "failed", "admin"), read from its
    key (refund_key); an admin's reason carries who and which message after it."""
    parts = (entry.idempotency_key or "").split(":")
    return parts[2] if len(parts) >= 3 and parts[0] == "refund" else ""
