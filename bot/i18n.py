"""Localisation: aiogram's gettext I18n with Babel catalogs under bot/locales.

Why gettext over Fluent: it ships with aiogram (no extra runtime), `pybabel extract` finds
every string in the code, so a test can prove the catalogs cover the code, and adding a
language is only a new .po file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiogram.types import TelegramObject
from aiogram.utils.i18n import I18n, I18nMiddleware

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"


def create_i18n(default_language: str) -> I18n:
    i18n = I18n(path=LOCALES_DIR, default_locale=default_language, domain=DOMAIN)
    if default_language not in i18n.available_locales:
        raise ValueError(
            f"DEFAULT_LANGUAGE {default_language!r} has no catalog; "
            f"available: {', '.join(sorted(i18n.available_locales))}"
        )
    return i18n


def pick_language(i18n: I18n, telegram_code: str | None) -> str:
    """The catalog closest to Telegram's language code ("pt-br" -> "pt"), else the default."""
    if telegram_code:
        code = telegram_code.lower().replace("-", "_")
        for candidate in (code, code.split("_")[0]):
            if candidate in i18n.available_locales:
                return candidate
    return i18n.default_locale


class StoredLanguageMiddleware(I18nMiddleware):
    """The user's stored choice first (loaded by UserMiddleware), then Telegram's, then default."""

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        # Never the `user` row itself: this also runs for the error handler, when the row
        # may be expired by a rollback and its session closed.
        stored = data.get("user_language")
        if stored in self.i18n.available_locales:
            return stored
        tg_user = data.get("event_from_user")
        return pick_language(self.i18n, getattr(tg_user, "language_code", None))
