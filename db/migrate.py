"""Apply Alembic migrations from code (python -m bot, tests), one process at a time.

Replicas started together on an empty or outdated database would all run the same
migrations at once (the second CREATE TABLE fails, or a half-upgraded schema starts). Each
migration run therefore holds a database-wide lock: PostgreSQL's advisory lock on the
migration connection, or for SQLite an exclusive file lock next to the database file. The
first process migrates; the others wait, then find the schema at head and do nothing.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

try:
    import fcntl
except ImportError:  # Windows: one process per SQLite file is all it runs anyway
    fcntl = None  # type: ignore[assignment]

_HERE = Path(__file__).resolve().parent
# pg_advisory_lock's key for "migrations running" (any constant; the same in every replica).
MIGRATION_LOCK_KEY = 7_360_185_520_150_528
log = logging.getLogger(__name__)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_HERE / "migrations"))
    cfg.attributes["url"] = url
    cfg.attributes["skip_logging"] = True
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Synchronous on purpose: Alembic's env runs its own event loop (call via to_thread).
    The lock is taken by the env (migration_lock), so `alembic upgrade` holds it too."""
    command.upgrade(alembic_config(url), revision)


def sqlite_lock_path(database: str) -> Path:
    return Path(database).expanduser().with_name(Path(database).name + ".migrate.lock")


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive flock on `path`; the kernel drops it if the process dies."""
    if fcntl is None:
        yield
        return
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another process is migrating the database; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@asynccontextmanager
async def _advisory_lock(connection: AsyncConnection) -> AsyncIterator[None]:
    """pg_advisory_lock on the migration connection (session-level: it outlives the
    transactions, and closing the connection, e.g. a killed process, releases it)."""
    key = {"key": MIGRATION_LOCK_KEY}
    if not await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), key):
        log.info("another process is migrating the database; waiting for it")
        await connection.execute(text("SELECT pg_advisory_lock(:key)"), key)
    await connection.commit()
    try:
        yield
    finally:
        if connection.in_transaction():
            await connection.rollback()  # a failed migration left its transaction open
        await connection.execute(text("SELECT pg_advisory_unlock(:key)"), key)
        await connection.commit()


@asynccontextmanager
async def migration_lock(connection: AsyncConnection, url: str) -> AsyncIterator[None]:
    """Held while `connection` migrates: one migrating process per database."""
    if connection.dialect.name == "postgresql":
        async with _advisory_lock(connection):
            yield
        return
    database = make_url(url).database
    if connection.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        yield  # an in-memory database belongs to this process alone
        return
    with _file_lock(sqlite_lock_path(database)):
        yield
