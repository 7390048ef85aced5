"""Real databases for tests: a SQLite file per test, and PostgreSQL when TEST_POSTGRES_URL is set.

CI starts a PostgreSQL server and sets TEST_POSTGRES_URL (and REQUIRE_POSTGRES=1, so a
missing server fails the run instead of skipping the PostgreSQL half).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from db.migrate import upgrade

BACKENDS = ["sqlite", "postgres"]  # the databases a test that must hold on both runs on


def postgres_url() -> str | None:
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url and os.environ.get("REQUIRE_POSTGRES"):
        pytest.fail("REQUIRE_POSTGRES is set but TEST_POSTGRES_URL is not")
    return url


@asynccontextmanager
async def fresh_database(
    backend: str, tmp_path: Path, *, revision: str | None = "head"
) -> AsyncIterator[str]:
    """A new database migrated to `revision` (None: left empty); dropped afterwards
    (PostgreSQL)."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'panel.db'}"
        if revision is not None:
            await asyncio.to_thread(upgrade, url, revision)
        yield url
        return
    base = postgres_url()
    if base is None:
        pytest.skip("TEST_POSTGRES_URL not set")
    import asyncpg

    admin = make_url(base).set(drivername="postgresql")
    name = f"test_{uuid.uuid4().hex[:12]}"
    dsn = admin.render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = make_url(base).set(drivername="postgresql+asyncpg", database=name)
    url_text = url.render_as_string(hide_password=False)
    try:
        if revision is not None:
            await asyncio.to_thread(upgrade, url_text, revision)
        yield url_text
    finally:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
