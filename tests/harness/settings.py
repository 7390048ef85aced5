"""The settings every test app starts from: a test token, one admin, a minute of status sync."""

from __future__ import annotations

from bot.config import Settings

ADMIN_ID = 9001
ADMINS = frozenset({ADMIN_ID})
CUSTOMER = 1001  # Alice, the customer most tests follow


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "bot_token": "123456:TEST-token",
        "database_url": database_url,
        "admin_ids": str(ADMIN_ID),
        "status_sync_seconds": 60,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]
