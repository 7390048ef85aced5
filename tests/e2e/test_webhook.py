"""Webhook mode: Telegram's POSTs with the secret reach the dispatcher; others are refused."""

from __future__ import annotations

import time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.webhook import WEBHOOK_PATH, build_webhook_app, ensure_webhook
from tests.fakes.telegram_server import FakeTelegram
from tests.harness.settings import make_settings


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
            assert f"{WEBHOOK_PATH}?v=" in fake.calls_of("setWebhook")[0].params["url"]
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


async def test_a_new_secret_or_new_update_types_set_the_webhook_again(tmp_path: Path) -> None:
    """Telegram never tells the secret back: with only the URL compared, a rotated
    WEBHOOK_SECRET kept the old one at Telegram and every update got a 401."""
    async with FakeTelegram() as fake:
        url = f"sqlite+aiosqlite:///{tmp_path / 'hook.db'}"
        common = {"bot_token": fake.token, "telegram_api_url": fake.base_url,
                  "webhook_url": "https://panel.example"}  # fmt: skip
        for secret, expected_calls in (("old-secret", 1), ("old-secret", 1), ("new-secret", 2)):
            app = await create_app(make_settings(url, webhook_secret=secret, **common))
            try:
                await ensure_webhook(app)
            finally:
                await app.close()
            calls = fake.calls_of("setWebhook")
            assert len(calls) == expected_calls, secret
            assert calls[-1].params["secret_token"] == secret
        # Update types the running code handles changed (e.g. a new handler): set again.
        fake.webhook_allowed_updates = ["message"]
        app = await create_app(make_settings(url, webhook_secret="new-secret", **common))
        try:
            await ensure_webhook(app)
        finally:
            await app.close()
        assert len(fake.calls_of("setWebhook")) == 3
        assert "secret" not in fake.webhook_url
