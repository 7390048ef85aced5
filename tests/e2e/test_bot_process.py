"""`python -m bot` as a real process against the fake Bot API server over HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import IO

from tests.fakes.telegram_server import FakeTelegram

ROOT = Path(__file__).resolve().parents[2]


async def start_bot(
    tmp_path: Path, fake: FakeTelegram, *, output: IO[bytes] | None = None, **env: str
) -> asyncio.subprocess.Process:
    """The bot as a child process; its stdout and stderr go to `output` if given (a file
    never fills up and blocks a chatty process, as an unread pipe does)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_"))}
    base.update(
        PYTHONPATH=str(ROOT),
        BOT_TOKEN=fake.token,
        TELEGRAM_API_URL=fake.base_url,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        ADMIN_IDS="9001",
        STATUS_SYNC_SECONDS="1",
        LOG_LEVEL="INFO",
    )
    base.update(env)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=tmp_path,
        env=base,
        stdout=output or asyncio.subprocess.PIPE,
        stderr=output or asyncio.subprocess.PIPE,
    )


async def stop(process: asyncio.subprocess.Process) -> tuple[int, str]:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    try:
        _, err = await asyncio.wait_for(process.communicate(), timeout=20)
    except TimeoutError:
        process.kill()
        _, err = await process.communicate()
        raise AssertionError("the bot did not stop on SIGTERM") from None
    return process.returncode or 0, err.decode() if err else ""


async def test_python_m_bot_answers_start_and_stops_cleanly(tmp_path: Path) -> None:
    async with FakeTelegram() as fake:
        process = await start_bot(tmp_path, fake)
        try:
            await fake.wait_polling(timeout=30)
            alice = fake.user(1001, "Alice")
            await alice.send("/start")
            menu = await alice.wait_message("Hello", timeout=15)
            for word in ("New order", "My orders", "Balance", "Help"):
                assert any(word in label for label in menu.button_texts), menu.button_texts
            assert (tmp_path / "bot.db").exists()
            webhook_dropped = fake.calls_of("deleteWebhook")
            assert webhook_dropped, "polling must start by deleting any webhook"
            allowed = fake.calls_of("getUpdates")[-1].params.get("allowed_updates")
            assert allowed and "message" in allowed and "callback_query" in allowed
        finally:
            code, err = await stop(process)
        assert code == 0, err
        assert "Traceback" not in err, err
        assert fake.token.split(":")[1] not in err  # the token never reaches the logs


async def test_a_refused_token_or_unreachable_bot_api_is_one_line_and_exit_2(
    tmp_path: Path,
) -> None:
    """Both are settings (BOT_TOKEN, TELEGRAM_API_URL): one clear line, exit 2, no traceback."""
    async with FakeTelegram() as fake:
        token = fake.token.split(":")[0] + ":revoked-token"
        process = await start_bot(tmp_path, fake, BOT_TOKEN=token)
        _, err = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode == 2, err.decode()
        assert "BOT_TOKEN: Telegram refused this token" in err.decode()
        assert "Traceback" not in err.decode() and "revoked-token" not in err.decode()
        closed = fake.base_url.rsplit(":", 1)[0] + ":1"
        process = await start_bot(tmp_path, fake, TELEGRAM_API_URL=closed)
        _, err = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode == 2, err.decode()
        assert f"cannot reach the Telegram Bot API at {closed}" in err.decode()
        assert "Traceback" not in err.decode()
        assert fake.token.split(":")[1] not in err.decode()
