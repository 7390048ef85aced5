"""The SQLite driver: one trip to aiosqlite's thread per statement, BEGIN sent with the first
statement, and the same answers as the stock adapter (rows, row counts, streaming,
transactions that commit, roll back and isolate)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import create_engine, make_sessionmaker, write_tx
from db.migrate import upgrade
from db.models import User
from db.sqlite_driver import OneTripSQLiteDialect, supported


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'panel.db'}"
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    yield engine
    await engine.dispose()


class Trips:
    """Counts the functions handed to aiosqlite's connection thread."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = aiosqlite.Connection._execute

        async def counted(conn: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await original(conn, fn, *args, **kwargs)

        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)


async def test_a_sqlite_url_gets_the_one_trip_dialect(engine: AsyncEngine) -> None:
    assert isinstance(engine.sync_engine.dialect, OneTripSQLiteDialect)


async def test_a_statement_is_one_trip_and_begin_travels_with_it(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessionmaker = make_sessionmaker(engine)
    async with sessionmaker() as session:  # warm: the pool's connection is open
        await session.scalar(select(func.count()).select_from(User))
    trips = Trips(monkeypatch)
    async with sessionmaker() as session:
        await session.scalar(select(func.count()).select_from(User))
        await session.scalar(select(func.count()).select_from(User))
    assert trips.count == 3  # BEGIN + SELECT, SELECT, the rollback at close
    trips.count = 0
    async with sessionmaker() as session, write_tx(session):
        session.add(User(id=1, first_name="Ann", language="en"))
    assert trips.count == 2  # BEGIN IMMEDIATE + INSERT, COMMIT
    trips.count = 0
    async with sessionmaker() as session, write_tx(session):
        pass
    assert trips.count == 0  # nothing sent: nothing to end


async def test_answers_are_the_stock_adapters(engine: AsyncEngine) -> None:
    sessionmaker = make_sessionmaker(engine)
    async with sessionmaker() as session, write_tx(session):
        await session.execute(
            insert(User), [{"id": i, "first_name": f"u{i}", "language": "en"} for i in range(1, 6)]
        )
    async with sessionmaker() as session, write_tx(session):
        changed = await session.execute(update(User).where(User.id <= 3).values(language="ru"))
        assert changed.rowcount == 3
        inserted = await session.execute(
            text(
                "INSERT INTO users (id, first_name, language, balance, is_blocked, created_at, "
                "updated_at) VALUES (9, 'x', 'en', 0, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        rowid = await session.scalar(text("SELECT rowid FROM users WHERE id = 9"))
        assert inserted.lastrowid == rowid
    async with sessionmaker() as session:
        users = (await session.scalars(select(User).order_by(User.id))).all()
        assert [u.id for u in users] == [1, 2, 3, 4, 5, 9]
        assert [u.language for u in users[:4]] == ["ru", "ru", "ru", "en"]
        streamed = [i async for i in await session.stream_scalars(select(User.id))]
        assert sorted(streamed) == [1, 2, 3, 4, 5, 9]


async def test_a_failed_write_rolls_back_and_a_read_keeps_its_snapshot(
    engine: AsyncEngine,
) -> None:
    sessionmaker = make_sessionmaker(engine)
    with pytest.raises(RuntimeError):
        async with sessionmaker() as session, write_tx(session):
            session.add(User(id=1, first_name="Ann", language="en"))
            await session.flush()
            raise RuntimeError("after the insert")
    async with sessionmaker() as reader:
        assert await reader.scalar(select(func.count()).select_from(User)) == 0
        async with sessionmaker() as writer, write_tx(writer):
            writer.add(User(id=2, first_name="Bob", language="en"))
        # the reader's transaction began before the write committed: it still sees none
        assert await reader.scalar(select(func.count()).select_from(User)) == 0
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 1


async def test_a_write_cancelled_in_flight_leaves_no_transaction_open(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """The statement (and its BEGIN IMMEDIATE) of a task cancelled while it waits for the
    thread still runs; the rollback must follow it, or the pooled connection would keep
    SQLite's write lock and every later writer would wait out the busy timeout."""
    sessionmaker = make_sessionmaker(engine)
    async with sessionmaker() as session:  # one pooled connection, opened
        await session.scalar(select(func.count()).select_from(User))
    gate = threading.Event()

    async def write() -> None:
        async with sessionmaker() as session, write_tx(session):
            conn = await session.connection()
            raw = await conn.get_raw_connection()
            raw.driver_connection._tx.put_nowait((None, gate.wait))  # the thread is busy
            session.add(User(id=1, first_name="Ann", language="en"))
            await session.flush()

    task = asyncio.create_task(write())
    try:
        await asyncio.sleep(0.2)
        task.cancel()  # while the INSERT (with its BEGIN IMMEDIATE) waits for the thread
        await asyncio.sleep(0.1)
    finally:
        gate.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    other = sqlite3.connect(tmp_path / "panel.db", timeout=1)
    try:
        other.execute("BEGIN IMMEDIATE")  # the write lock is free
        other.rollback()
    finally:
        other.close()
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 0


def test_the_installed_sqlalchemy_and_aiosqlite_are_the_ones_the_driver_fits() -> None:
    assert supported()  # else every SQLite engine falls back to the stock adapter
