"""Keeps aiogram's ``Response[T]`` classes alive for the life of the process.

aiogram validates every Bot API answer with ``Response[method.__returning__]``. pydantic
keeps parametrized generic classes only weakly, so after a garbage collection the next call
builds the class again (a full pydantic model build, several ms each, several per update
under load). A request middleware holds one strong reference per return type, taken the
first time a method is called (building them all up front would slow every start-up).
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.methods.base import Response, TelegramMethod, TelegramType

_KEPT: dict[Any, type[Any]] = {}


def keep_response_type(returning: Any) -> None:
    if returning not in _KEPT:
        _KEPT[returning] = Response[returning]  # type: ignore[valid-type]


class KeepResponseTypes(BaseRequestMiddleware):
    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Any:
        keep_response_type(method.__returning__)
        return await make_request(bot, method)


def keep_response_types(bot: Bot) -> None:
    """Attach the keeper to the bot's session (once)."""
    if not any(isinstance(m, KeepResponseTypes) for m in bot.session.middleware):
        bot.session.middleware(KeepResponseTypes())
