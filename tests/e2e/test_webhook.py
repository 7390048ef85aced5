"""Webhook mode: Telegram's POSTs with the secret reach the dispatcher; others are refused."""

from __future__ import annotations

import time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.webhook import WEBHOOK_PATH, build_webhook_app, ensure_webhook
from tests.conftest import make_settings
from tests.fakes.telegram_server import FakeTelegram


async def test_webhook_update_is_answered_and_the_secret_is_checked(tmp_path: Path) -> None:
    async with FakeTelegram() as fake:
        settings = make_settings(
            f"sqlite+aiosqlite:///{tmp_path / 'hook.db'}",
            bot_token=fake.token,
            telegram_api_url=fake.base_url,
            webhook_url="https://panel.example",
            webhook_secret="s3cret",
        )
        app = await create_app(settings)
        try:
            await ensure_webhook(app)
            await ensure_webhook(app)  # a second replica finds it set and leaves it alone
            assert len(fake.calls_of("setWebhook")) == 1
            assert fake.calls_of("setWebhook")[0].params["url"].endswith(WEBHOOK_PATH)
            update = {
                "update_id": 1,
                "message": {
                    "message_id": 1,
                    "date": int(time.time()),
                    "text": "/start",
                    "chat": {"id": 1001, "type": "private"},
                    "from": {"id": 1001, "is_bot": False, "first_name": "Alice"},
                    "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
                },
            }
            async with TestClient(TestServer(build_webhook_app(app))) as client:
                forged = await client.post(
                    WEBHOOK_PATH, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "no"}
                )
                assert forged.status == 401
                ok = await client.post(
                    WEBHOOK_PATH, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
                )
                assert ok.status == 200
                alice = fake.user(1001, "Alice")
                menu = await alice.wait_message("Hello", timeout=10)
                assert any("New order" in b for b in menu.button_texts)
                assert (await client.get("/healthz")).status == 200
        finally:
            await app.close()
