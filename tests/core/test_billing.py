import asyncio
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import billing
from db.engine import create_engine, make_sessionmaker, write_tx
from db.models import LedgerEntry, User
from tests.harness import seed
from tests.harness.databases import BACKENDS


async def make_user(sm: async_sessionmaker[AsyncSession], user_id: int, balance: str) -> None:
    async with sm() as session, write_tx(session):
        session.add(User(id=user_id, first_name="u"))
        await session.flush()
        if Decimal(balance) > 0:
            await billing.credit(session, user_id, Decimal(balance), key=f"seed:{user_id}")


async def balance_of(sm: async_sessionmaker[AsyncSession], user_id: int) -> Decimal:
    async with sm() as session:
        return (await session.get(User, user_id)).balance  # type: ignore[union-attr]


async def test_fifty_concurrent_debits_against_ten(any_database_url: str) -> None:
    engine = (
        create_engine(any_database_url, pool_size=20, max_overflow=40)
        if ("postgresql" in any_database_url)
        else create_engine(any_database_url)
    )
    sm = make_sessionmaker(engine)
    await make_user(sm, 1, "10")

    async def one_debit(i: int) -> bool:
        async with sm() as session:
            try:
                async with write_tx(session):
                    await billing.debit(session, 1, Decimal(1), key=f"debit:{i}")
                return True
            except billing.InsufficientFunds:
                return False

    results = await asyncio.gather(*(one_debit(i) for i in range(50)))
    assert sum(results) == 10
    assert await balance_of(sm, 1) == Decimal(0)
    async with sm() as session:
        assert await billing.ledger_sum(session, 1) == Decimal(0)
        debits = await session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.amount < 0)
        )
        assert debits == 10
    await engine.dispose()


async def test_refund_happens_once_per_order_and_reason(sessionmaker) -> None:
    await make_user(sessionmaker, 2, "0")
    async with sessionmaker() as session, write_tx(session):
        await seed.order(session, 2, id=77)
    for _ in range(3):
        async with sessionmaker() as session, write_tx(session):
            await billing.refund(session, 2, 77, Decimal("1.5"), reason="partial")
    assert await balance_of(sessionmaker, 2) == Decimal("1.5")
    async with sessionmaker() as session, write_tx(session):
        await billing.refund(session, 2, 77, Decimal("0.5"), reason="admin")
    assert await balance_of(sessionmaker, 2) == Decimal("2.0")


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
async def test_concurrent_duplicate_refunds_write_one_row(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await make_user(sessionmaker, 3, "0")
    async with sessionmaker() as session, write_tx(session):
        await seed.order(session, 3, id=5)

    async def attempt() -> None:
        async with sessionmaker() as session:
            try:
                async with write_tx(session):
                    await billing.refund(session, 3, 5, Decimal("2"), reason="canceled")
            except Exception as exc:  # the loser of a race hits the unique key
                assert "unique" in str(exc).lower() or "duplicate" in str(exc).lower()

    await asyncio.gather(*(attempt() for _ in range(10)))
    assert await balance_of(sessionmaker, 3) == Decimal(2)


async def test_debit_never_goes_negative_and_writes_nothing(sessionmaker) -> None:
    await make_user(sessionmaker, 4, "0.5")
    async with sessionmaker() as session:
        with pytest.raises(billing.InsufficientFunds) as info:
            async with write_tx(session):
                await billing.debit(session, 4, Decimal("0.50000001"), key="too-much")
    assert info.value.missing == Decimal("0.00000001")
    assert await balance_of(sessionmaker, 4) == Decimal("0.5")
    async with sessionmaker() as session:
        assert await billing.find_entry(session, "too-much") is None


amounts = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal(1000), places=8)
operations = st.lists(
    st.tuples(st.sampled_from(["credit", "debit", "refund"]), amounts), min_size=1, max_size=40
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=operations)
async def test_balance_equals_sum_of_ledger(database_url: str, ops) -> None:
    engine = create_engine(database_url)
    sm = make_sessionmaker(engine)
    async with sm() as session, write_tx(session):
        user = await session.get(User, 5)
        if user is None:
            session.add(User(id=5, first_name="h"))
            await session.flush()
            for order_id in (100, 101, 102):
                await seed.order(session, 5, id=order_id)
    for i, (kind, amount) in enumerate(ops):
        async with sm() as session:
            try:
                async with write_tx(session):
                    if kind == "credit":
                        await billing.credit(session, 5, amount, key=f"c:{i}:{amount}:{id(ops)}")
                    elif kind == "debit":
                        await billing.debit(session, 5, amount, key=f"d:{i}:{amount}:{id(ops)}")
                    else:
                        await billing.refund(session, 5, 100 + i % 3, amount, reason=f"r{id(ops)}")
            except billing.InsufficientFunds:
                pass
    async with sm() as session:
        user = await session.get(User, 5)
        assert user is not None and user.balance >= 0
        assert user.balance == await billing.ledger_sum(session, 5)
    await engine.dispose()
