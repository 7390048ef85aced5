"""What every benchmark shares: a scratch database, the fake provider process, a local Bot
API session, a SQL statement counter and percentiles."""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import resource
import sys
import tempfile
import time
import types
import typing
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import TelegramMethod
from aiogram.types import Message, User, WebhookInfo
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.fake_provider import API_PATH
from db.migrate import upgrade

BENCH_KEY = "bench-key"
BOT_USER = User(id=777000, is_bot=True, first_name="Bench bot", username="bench_bot")


@asynccontextmanager
async def scratch_database(database: str | None) -> AsyncIterator[str]:
    """A new, migrated database: a temporary SQLite file, or a throwaway PostgreSQL one."""
    if database is None or make_url(database).get_backend_name() == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            await asyncio.to_thread(upgrade, url)
            yield url
        return
    import asyncpg

    admin = make_url(database).set(drivername="postgresql").render_as_string(False)
    name = f"bench_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = make_url(database).set(drivername="postgresql+asyncpg", database=name)
    try:
        await asyncio.to_thread(upgrade, url.render_as_string(False))
        yield url.render_as_string(False)
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


class ProviderProcess:
    """bench.fake_provider in a child process (its CPU is not the bot's)."""

    def __init__(self, api_key: str = BENCH_KEY) -> None:
        self.api_key = api_key
        self.url = ""
        self._process: asyncio.subprocess.Process | None = None
        self._control_url = ""

    async def __aenter__(self) -> ProviderProcess:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.fake_provider", self.api_key,
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self._process.stdout is not None
        line = (await self._process.stdout.readline()).decode()
        port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{port}{API_PATH}"
        self._control_url = f"http://127.0.0.1:{port}/control"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            await self._process.wait()

    async def control(self, **command: Any) -> dict[str, Any]:
        async with httpx.AsyncClient() as http:
            response = await http.post(self._control_url, json=command, timeout=30)
            return response.json()  # type: ignore[no-any-return]


class LocalBotSession(BaseSession):
    """Answers the Bot API in-process (no network) and keeps each chat's last keyboard."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        # Each chat's last keyboards, newest last: an order's outcome edit (the outbox) may
        # land between a step's answer and the press of one of its buttons.
        self.markups: dict[int, collections.deque[Any]] = {}
        self._ids = itertools.count(1_000_000)

    async def close(self) -> None:
        return None

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[Any],
        timeout: int | None = None,  # noqa: ASYNC109
    ) -> Any:
        """The answer Telegram would give, decoded the way aiogram decodes one off the wire
        (JSON text → Response[T]), so the bot's CPU per call is the real one."""
        self.calls += 1
        result = self._answer(method)
        content = json.dumps({"ok": True, "result": result})
        return self.check_response(bot, method, 200, content).result

    def _answer(self, method: TelegramMethod[Any]) -> Any:
        """What Telegram answers this method with, in the shape of its declared return type
        (a Message for a send or an edit, a list for getMyCommands, the bot for getMe,
        True for setMyCommands, answerCallbackQuery and the like)."""
        returning = method.__returning__
        kinds = typing.get_args(returning) if isinstance(returning, types.UnionType) else ()
        if Message in kinds or returning is Message:
            return self._message(method)
        if typing.get_origin(returning) is list:
            return []
        if returning is User:
            return BOT_USER.model_dump(exclude_none=True)
        if returning is WebhookInfo:
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        if returning is bool:
            return True
        raise NotImplementedError(f"the bench's Bot API does not answer {type(method).__name__}")

    def _message(self, method: TelegramMethod[Any]) -> dict[str, Any]:
        chat_id = int(getattr(method, "chat_id", None) or 0)
        markup = getattr(method, "reply_markup", None)
        if markup is not None:
            self.markups.setdefault(chat_id, collections.deque(maxlen=3)).append(markup)
        return {
            "message_id": getattr(method, "message_id", None) or next(self._ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": BOT_USER.model_dump(exclude_none=True),
            "text": getattr(method, "text", None) or getattr(method, "caption", None) or "",
        }

    async def stream_content(self, *args: Any, **kwargs: Any) -> AsyncGenerator[bytes, None]:
        yield b""

    def button(self, chat_id: int, label: str) -> str:
        """callback_data of the button whose text has `label`, on the chat's newest keyboard
        that has one."""
        for markup in reversed(self.markups.get(chat_id, ())):
            for row in getattr(markup, "inline_keyboard", None) or []:
                for button in row:
                    if label in button.text and button.callback_data:
                        return str(button.callback_data)
        raise LookupError(f"chat {chat_id}: no button {label!r}")


class StatementCounter:
    """Counts SQL statements sent by an engine (cursor executions, executemany as one)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.count = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: Any) -> None:
        self.count += 1


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def peak_rss_mb() -> float:
    """This process's own peak RSS. Linux's VmHWM belongs to the process image, while
    getrusage's ru_maxrss keeps the parent's peak across fork and exec: a benchmark child
    started by a parent that had run order_flow reported the parent's ~154 MB as its own."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time of this process, every thread included (SQLite works in a thread)."""
    return time.process_time()
