"""`python -m bot backup PATH` and `python -m bot check-db` as the owner runs them: real
processes against real databases, while orders are being placed."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.maintenance import backup, check_db
from core.billing import InsufficientFunds
from core.money_audit import audit_money
from core.ordering import OrderDraft, place_order
from db.backup import backup_sqlite
from db.engine import create_engine, make_sessionmaker, write_tx
from db.models import Order, User
from tests.harness import ledger, seed

ROOT = Path(__file__).resolve().parents[2]
CUSTOMERS = range(2001, 2011)


async def python_m_bot(tmp_path: Path, url: str, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE_"))}
    env.update(PYTHONPATH=str(ROOT), BOT_TOKEN="123456:TEST-token", DATABASE_URL=url)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=90)
    return process.returncode or 0, out.decode(), err.decode()


@dataclass
class Shop:
    """Customers with money ordering from one service as fast as the database takes it."""

    sm: async_sessionmaker[AsyncSession]
    service_id: int
    placed: int = 0

    async def keep_ordering(self, stop: asyncio.Event) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            user_id = CUSTOMERS[n % len(CUSTOMERS)]
            async with self.sm() as session:
                draft = OrderDraft(self.service_id, "https://instagram.com/alice", 100)
                try:
                    await place_order(session, user_id, draft, key=f"order-{n}")
                except InsufficientFunds:
                    await ledger.give_money(self.sm, user_id, "50")
                    continue
            self.placed += 1


@asynccontextmanager
async def ordering(url: str) -> AsyncIterator[Shop]:
    """A shop placing orders in the background for as long as the block runs."""
    engine = create_engine(url)
    sm = make_sessionmaker(engine)
    for user_id in CUSTOMERS:
        await ledger.give_money(sm, user_id, "5")
    async with sm() as session, write_tx(session):
        shop = Shop(sm, (await seed.service(session, price=Decimal("1.00"))).id)
    stop = asyncio.Event()
    task = asyncio.create_task(shop.keep_ordering(stop))
    try:
        await asyncio.sleep(0.5)
        yield shop
    finally:
        stop.set()
        await task
        await engine.dispose()


async def restored_books(path: Path) -> int:
    """Open a backup as a database: every balance equals its ledger; its order count."""
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    sm = make_sessionmaker(engine)
    try:
        async with sm() as session:
            report = await audit_money(session)
            assert report.clean, report
            users = list(await session.scalars(select(User.id).order_by(User.id)))
        assert users == list(CUSTOMERS)
        for user_id in users:
            await ledger.balance(sm, user_id)  # asserts balance == sum of the ledger
        return report.orders
    finally:
        await engine.dispose()


def leftovers(directory: Path) -> list[Path]:
    return [*directory.glob(".*.partial-*"), *directory.glob("stepped.db-*")]


async def test_a_backup_taken_while_orders_are_placed_restores_to_balanced_books(
    tmp_path: Path, database_url: str
) -> None:
    source = Path(database_url.split("///", 1)[1])
    backups = tmp_path / "backups"
    backups.mkdir()
    async with ordering(database_url) as shop:
        code, out, err = await python_m_bot(tmp_path, database_url, "backup", str(backups))
        assert code == 0, err
        assert out.startswith(f"backed up {source} to {backups}"), out
        [by_command] = list(backups.iterdir())  # a time-stamped file in the directory
        # The same copy in small steps, so that orders certainly commit between its steps:
        # it still is one moment of the database, not a mix of before and after.
        before = shop.placed
        copy = await asyncio.to_thread(
            backup_sqlite, source, tmp_path / "stepped.db", pages=2, pause=0.02
        )
        during = shop.placed - before
    assert during > 0, "no order was placed while the backup ran"
    assert await restored_books(by_command) > 0
    stepped_orders = await restored_books(copy.path)
    assert 0 < stepped_orders < shop.placed  # a snapshot: the orders placed after it are not in
    assert leftovers(tmp_path) == [], "a partial copy, or a -wal/-shm beside the copy"


async def test_backup_answers_bad_paths_and_postgres_in_one_clear_line(
    tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = Path(database_url.split("///", 1)[1])
    cases = {
        tmp_path / "missing" / "panel.db": "is not a directory",
        source: "is the live database",
        Path(f"{source}-wal"): "is the live database",
    }
    for path, answer in cases.items():
        assert backup(database_url, path) == 2
        assert answer in capsys.readouterr().err
    nowhere = f"sqlite+aiosqlite:///{tmp_path / 'nothing-here.db'}"
    assert backup(nowhere, tmp_path / "copy.db") == 2
    assert "no database file at" in capsys.readouterr().err
    assert not (tmp_path / "nothing-here.db").exists()  # never creates the database it copies

    postgres = "postgresql+asyncpg://panel:s3cret-pw@db.internal:6543/panel"
    code, out, err = await python_m_bot(tmp_path, postgres, "backup", "/var/backups/panel.dump")
    assert code == 2 and out == ""
    assert (
        "pg_dump --format=custom --file=/var/backups/panel.dump --host=db.internal "
        "--port=6543 --username=panel panel"
    ) in err
    assert "pg_restore" in err and "s3cret-pw" not in err and "Traceback" not in err


async def test_check_db_exits_0_on_clean_books_and_1_with_a_report_on_a_broken_row(
    tmp_path: Path, any_database_url: str
) -> None:
    async with ordering(any_database_url) as shop:
        await asyncio.sleep(0.5)
    engine = create_engine(any_database_url)
    try:
        code, out, err = await python_m_bot(tmp_path, any_database_url, "check-db")
        assert code == 0, out + err
        assert f"{shop.placed:,} orders" in out and "OK: every balance equals" in out
        async with make_sessionmaker(engine)() as session, write_tx(session):
            first = await session.scalar(select(func.min(Order.id)))
            await session.execute(
                update(User).where(User.id == CUSTOMERS[0]).values(balance=Decimal("-0.01"))
            )
            await session.execute(
                update(Order).where(Order.id == first).values(refunded=Decimal("7.00"))
            )
    finally:
        await engine.dispose()
    code, out, err = await python_m_bot(tmp_path, any_database_url, "check-db")
    assert code == 1, out + err
    assert "PROBLEM: balance differs from the sum of its ledger (1):" in out
    assert f"user {CUSTOMERS[0]}: balance -0.01, ledger sum " in out
    assert "PROBLEM: negative balance (1):" in out
    assert f"order #{first} (user " in out and "order says refunded 7.00" in out
    assert "Traceback" not in err


async def test_check_db_on_a_database_it_cannot_read_says_so_in_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'nope.db'}"
    code, _, err = await python_m_bot(tmp_path, url, "check-db")
    assert code == 2 and f"no database file at {tmp_path / 'nope.db'}" in err
    assert not (tmp_path / "nope.db").exists()  # never creates the database it checks
    for unreadable in (
        "postgresql+asyncpg://panel@127.0.0.1:1/panel",  # no server there
        f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}",  # not the panel's database
    ):
        (tmp_path / "empty.db").touch()
        assert await asyncio.to_thread(check_db, unreadable) == 2
        err = capsys.readouterr().err
        assert err.startswith("check-db: cannot read the database: ") and err.count("\n") == 1
