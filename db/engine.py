"""Engine and session factory. SQLite gets WAL, foreign keys and explicit BEGIN control."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import registry
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from db import sqlite_driver
from db.cache_versions import PanelSession
from db.secrets import KeyRing, attach

WRITE_OPTION = "panel_write"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/bot.db"
registry.register(sqlite_driver.DIALECT_NAME, "db.sqlite_driver", "dialect")


def ensure_sqlite_dir(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def create_engine(url: str, *, secret_key: str | None = None, **kwargs: Any) -> AsyncEngine:
    """The engine; SQL parameters (a provider key among them) never reach an error or a log.

    With `secret_key` (SECRET_KEY) provider keys are encrypted at rest (db.secrets).
    """
    ensure_sqlite_dir(url)
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.get_driver_name() == "aiosqlite" and sqlite_driver.supported():
            parsed = parsed.set(drivername=sqlite_driver.DIALECT_NAME.replace(".", "+"))
        engine = create_async_engine(parsed, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine)
    else:
        engine = create_async_engine(url, pool_pre_ping=True, **kwargs)
    attach(engine.sync_engine.dialect, KeyRing(secret_key) if secret_key else None)
    return engine


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL + foreign keys, and BEGIN IMMEDIATE for write transactions.

    pysqlite's own implicit BEGIN is switched off so that we emit it ourselves: a write
    transaction takes the write lock up front (and waits for it via the busy timeout) instead
    of failing with SQLITE_BUSY when a read snapshot has to be upgraded.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(WRITE_OPTION, False)
        begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"
        dbapi_conn = conn.connection.dbapi_connection
        if isinstance(dbapi_conn, sqlite_driver.OneTripConnection):
            dbapi_conn.begin_with_next(begin)  # sent in the first statement's trip
        else:
            conn.exec_driver_sql(begin)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose writes to a cached thing raise its version (db.cache_versions)."""
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=PanelSession)


@asynccontextmanager
async def write_tx(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """One short write transaction: commits on success, rolls back on error.

    A read transaction the caller left open (e.g. a handler that looked something up first)
    is ended first, so the write starts from a fresh snapshot with the write lock held.
    """
    if session.in_transaction():
        await session.commit()
    async with session.begin():
        await session.connection(execution_options={WRITE_OPTION: True})
        yield session
