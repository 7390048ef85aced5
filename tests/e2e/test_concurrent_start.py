"""Replicas started together on an empty or outdated database: one of them migrates (under
the database's lock), the others wait for it, and all of them come up on the schema at head.

Three real `python -m bot` processes in webhook mode, each on its own port, against one
database and the fake Bot API over HTTP; each must answer /healthz with 200. So that they
reach their migrations at the same moment (not one after the other, as three interpreters
starting on a busy machine would), the test holds the migration lock until all three wait
for it, as a slow first replica would.
"""

from __future__ import annotations

import asyncio
import fcntl
import signal
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url

from db.engine import create_engine
from db.migrate import MIGRATION_LOCK_KEY, alembic_config, sqlite_lock_path
from tests.e2e.test_bot_process import start_bot, stop
from tests.fakes.telegram_server import FakeTelegram
from tests.harness.databases import fresh_database

REPLICAS = 3
WAIT = 120.0  # three interpreters importing the app at once on a small, busy machine
FIRST_MIGRATION = "Running upgrade  -> "  # the first migration: an empty database
WAITING = "another process is migrating the database; waiting for it"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def migration_lock_held(url: str) -> AsyncIterator[None]:
    """The lock a migrating replica holds, held by the test."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database
        with sqlite_lock_path(parsed.database).open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        return
    dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        yield
    finally:
        await connection.close()


def tail(log: Path) -> str:
    return log.read_text()[-3000:]


async def wait_log(process: asyncio.subprocess.Process, log: Path, line: str) -> None:
    for _ in range(int(WAIT * 5)):
        if line in tail(log):
            return
        if process.returncode is not None:
            raise AssertionError(f"a replica exited:\n{tail(log)}")
        await asyncio.sleep(0.2)
    raise AssertionError(f"a replica never logged {line!r}:\n{tail(log)}")


async def wait_healthy(process: asyncio.subprocess.Process, port: int, log: Path) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        for _ in range(int(WAIT * 5)):
            if process.returncode is not None:
                raise AssertionError(f"replica on :{port} exited:\n{tail(log)}")
            try:
                answer = await client.get(f"http://127.0.0.1:{port}/healthz")
                if answer.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"replica on :{port} never became healthy:\n{tail(log)}")


@asynccontextmanager
async def replicas(tmp_path: Path, url: str, tg: FakeTelegram) -> AsyncIterator[list[Path]]:
    """REPLICAS bot processes started at the same moment; yields their log files once all of
    them answer /healthz, and stops them (SIGTERM) afterwards."""
    async with AsyncExitStack() as stack:
        started = []
        lock = await stack.enter_async_context(AsyncExitStack())
        await lock.enter_async_context(migration_lock_held(url))
        for n in range(REPLICAS):
            log = tmp_path / f"replica-{n}.log"
            output = stack.enter_context(log.open("wb"))
            port = free_port()
            process = await start_bot(
                tmp_path,
                tg,
                output=output,
                DATABASE_URL=url,
                WEBHOOK_URL="https://panel.example",
                WEBHOOK_SECRET="replica-secret",
                WEBHOOK_LISTEN_HOST="127.0.0.1",
                WEBHOOK_LISTEN_PORT=str(port),
            )
            stack.push_async_callback(stop, process)
            started.append((process, port, log))
        await asyncio.gather(*(wait_log(p, log, WAITING) for p, _, log in started))
        await lock.aclose()  # all three are at their migrations now: let them go
        await asyncio.gather(*(wait_healthy(p, port, log) for p, port, log in started))
        yield [log for _, _, log in started]
        for process, _, _ in started:
            process.send_signal(signal.SIGTERM)
        for process, _, log in started:  # three stopping at once take a while on a busy box
            assert await asyncio.wait_for(process.wait(), timeout=WAIT) == 0, tail(log)


async def schema_versions(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            return [row[0] for row in rows]
    finally:
        await engine.dispose()


def head() -> str:
    revision = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    assert revision is not None
    return revision


def count_in_logs(logs: list[Path], line: str) -> int:
    return sum(log.read_text().count(line) for log in logs)


@pytest.mark.timeout(300)  # three interpreters starting at once on a loaded machine
async def test_three_replicas_started_at_once_on_an_empty_postgres_migrate_once(
    tmp_path: Path,
) -> None:
    async with (
        fresh_database("postgres", tmp_path, revision=None) as url,
        FakeTelegram() as tg,
        replicas(tmp_path, url, tg) as logs,
    ):
        assert await schema_versions(url) == [head()]
        assert count_in_logs(logs, FIRST_MIGRATION) == 1, "the schema was created more than once"
        assert count_in_logs(logs, f"-> {head()}") == 1


@pytest.mark.timeout(300)
async def test_replicas_started_at_once_on_an_outdated_sqlite_file_upgrade_it_once(
    tmp_path: Path,
) -> None:
    """An upgrade: the database is a revision behind the code the processes run."""
    previous = ScriptDirectory.from_config(alembic_config("")).get_revision(head()).down_revision
    assert isinstance(previous, str)
    async with (
        fresh_database("sqlite", tmp_path, revision=previous) as url,
        FakeTelegram() as tg,
        replicas(tmp_path, url, tg) as logs,
    ):
        assert await schema_versions(url) == [head()]
        assert count_in_logs(logs, f"Running upgrade {previous} -> {head()}") == 1
        assert count_in_logs(logs, FIRST_MIGRATION) == 0
