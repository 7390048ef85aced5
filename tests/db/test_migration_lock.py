"""The migration lock is given back however a migration ends: after success, and after a
migration that fails (which leaves no half-applied version behind on PostgreSQL)."""

from __future__ import annotations

import asyncio
import fcntl
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from db.engine import create_engine
from db.migrate import MIGRATION_LOCK_KEY, sqlite_lock_path, upgrade
from tests.harness.databases import BACKENDS, fresh_database


async def lock_is_free(url: str) -> bool:
    """Whether another process could take the migration lock now."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database
        with sqlite_lock_path(parsed.database).open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            fcntl.flock(handle, fcntl.LOCK_UN)
            return True
    dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        return bool(
            await connection.fetchval("SELECT pg_try_advisory_lock($1)", MIGRATION_LOCK_KEY)
        )
    finally:
        await connection.close()


async def execute(url: str, statement: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement))
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_the_lock_is_given_back_after_a_migration_and_after_a_failed_one(
    tmp_path: Path, backend: str
) -> None:
    async with fresh_database(backend, tmp_path, revision=None) as url:
        # A table in the way: the first migration's CREATE TABLE users fails.
        await execute(url, "CREATE TABLE users (id INTEGER PRIMARY KEY)")
        with pytest.raises(Exception, match="users"):
            await asyncio.to_thread(upgrade, url)
        assert await lock_is_free(url)
        if backend == "postgres":  # transactional DDL: nothing of the failed run is left
            tables = await execute(
                url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            )
            assert tables == [("users",)]
        await execute(url, "DROP TABLE users")
        await asyncio.to_thread(upgrade, url)
        assert await lock_is_free(url)
        assert len(await execute(url, "SELECT version_num FROM alembic_version")) == 1
