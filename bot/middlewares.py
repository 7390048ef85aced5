"""Update-level middlewares: a database session per update and the current user."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import pick_language
from core.users import ensure_user

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class DbSessionMiddleware(BaseMiddleware):
    """One AsyncSession per update; core functions open their own short write transactions."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with self.sessionmaker() as session:
            data["session"] = session
            return await handler(event, data)


class UserMiddleware(BaseMiddleware):
    """Registers the sender on first contact and injects the `user` row."""

    def __init__(self, i18n: I18n) -> None:
        self.i18n = i18n

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        tg_user = data.get("event_from_user")
        if tg_user is not None and not tg_user.is_bot:
            data["user"] = await ensure_user(
                data["session"],
                tg_user.id,
                first_name=tg_user.first_name or "",
                username=tg_user.username,
                language=pick_language(self.i18n, tg_user.language_code),
            )
            # A plain copy for the error path: after a failed write the row is expired and
            # its session closed, and "Something went wrong" must still find the language.
            data["user_language"] = data["user"].language
        return await handler(event, data)
