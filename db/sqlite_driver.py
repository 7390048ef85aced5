"""SQLite through aiosqlite with one trip to the connection's thread per statement.

SQLAlchemy's aiosqlite adapter makes four trips for a statement (open a cursor, execute,
fetch the rows, close the cursor), each a hand-over to aiosqlite's thread and back through
the event loop. Under load every trip waits for a turn of a busy loop, and a write
transaction holds SQLite's one write lock across all of them. Here a statement is one
function run on the thread (cursor, execute, fetch, close) and the adapter keeps the rows,
the description, the row count and the last row id it brought back. A transaction's BEGIN
travels with its first statement (``begin_with_next``), and a transaction that sent none
ends without a trip. Everything else (connecting, server-side cursors for streaming) is
SQLAlchemy's own.

The URL stays `sqlite+aiosqlite://`: db.engine picks this dialect for it when `supported()`
(tested with SQLAlchemy 2.1 and aiosqlite 0.22; other builds keep the stock adapter).
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util import EMPTY_DICT

DIALECT_NAME = "sqlite.panel_aiosqlite"
T = TypeVar("T")


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose statement is run, fetched and closed in one trip."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]  # opened on the thread, per statement
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        raw: sqlite3.Connection = self._connection._conn

        def run() -> tuple[Any, list[Any], int, int | None]:
            cursor = raw.cursor()
            try:
                cursor.execute(operation, () if parameters is None else parameters)
                rows = cursor.fetchall() if cursor.description else []
                return cursor.description, rows, cursor.rowcount, cursor.lastrowid
            finally:
                cursor.close()

        async with self._adapt_connection._execute_mutex:
            begin = self._adapt_connection.take_begin()
            answer = await self._connection._execute(_after(begin, raw, run))
        self._description, rows, self._rowcount, self._lastrowid = answer
        self._rows = collections.deque(rows)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        raw: sqlite3.Connection = self._connection._conn

        def run() -> tuple[int, int | None]:
            cursor = raw.cursor()
            try:
                cursor.executemany(operation, seq_of_parameters)
                return cursor.rowcount, cursor.lastrowid
            finally:
                cursor.close()

        async with self._adapt_connection._execute_mutex:
            begin = self._adapt_connection.take_begin()
            self._rowcount, self._lastrowid = await self._connection._execute(
                _after(begin, raw, run)
            )
        self._description = None
        self._rows.clear()

    async def _async_soft_close(self) -> None:
        return None  # nothing is open between statements

    def close(self) -> None:
        self._rows.clear()


def _after(begin: str | None, raw: sqlite3.Connection, run: Callable[[], T]) -> Callable[[], T]:
    if begin is None:
        return run

    def begun() -> T:
        raw.execute(begin)
        return run()

    return begun


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_begin", "_sent")
    _cursor_cls = OneTripCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._begin: str | None = None
        self._sent = False  # a statement was queued since the last commit or rollback

    def begin_with_next(self, statement: str) -> None:
        """BEGIN (or BEGIN IMMEDIATE) is sent with the next statement, in its trip."""
        self._begin = statement

    def take_begin(self) -> str | None:
        """For a statement about to be queued: the BEGIN it carries, if any."""
        begin, self._begin = self._begin, None
        self._sent = True
        return begin

    def commit(self) -> None:
        if self._to_end():
            super().commit()
            self._sent = False

    def rollback(self) -> None:
        if self._to_end():
            super().rollback()
            self._sent = False

    def _to_end(self) -> bool:
        """Whether a commit or rollback has anything to end: not when no statement was queued
        since the last one that succeeded (a BEGIN still waiting was never sent; a
        connection back in the pool after a rollback has none). Decided by what was queued,
        not by asking the thread: a statement queued by a task cancelled meanwhile still
        runs, and the rollback queued after it must follow it."""
        self._begin = None
        return self._sent


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        stock = super().connect(*arg, **kw)
        return OneTripConnection(self, stock._connection)


class OneTripSQLiteDialect(SQLiteDialect_aiosqlite):
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneTripDBAPI:  # type: ignore[override]
        return OneTripDBAPI(__import__("aiosqlite"), __import__("sqlite3"))


dialect = OneTripSQLiteDialect


def supported() -> bool:
    """Whether the installed SQLAlchemy and aiosqlite are built the way this driver relies on
    (it reaches into both): else db.engine keeps SQLAlchemy's stock adapter."""
    import aiosqlite

    # the class giving the stock cursor its execute() must route it through _execute_async
    runs = next(c for c in AsyncAdapt_aiosqlite_cursor.__mro__ if "execute" in vars(c))
    return (
        "_execute_async" in vars(runs)
        and hasattr(aiosqlite.Connection, "_execute")
        and isinstance(getattr(aiosqlite.Connection, "_conn", None), property)
    )


__all__ = ["DIALECT_NAME", "OneTripConnection", "OneTripSQLiteDialect", "supported"]
