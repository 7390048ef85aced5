"""A Bot API session that records calls instead of sending them (the feed_update fast path)."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncGenerator
from typing import Any

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageReplyMarkup,
    EditMessageText,
    GetMe,
    SendMessage,
    TelegramMethod,
)
from aiogram.types import Chat, Message, User

BOT_USER = User(id=123456, is_bot=True, first_name="Test bot", username="test_smm_bot")


class RecordingSession(BaseSession):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[TelegramMethod[Any]] = []
        self._ids = itertools.count(1000)

    async def close(self) -> None:
        return None

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[Any],
        timeout: int | None = None,  # noqa: ASYNC109
    ) -> Any:
        self.calls.append(method)
        if isinstance(method, SendMessage):
            return self._message(method.chat_id, method.text, method.reply_markup)
        if isinstance(method, EditMessageText):
            return self._message(
                method.chat_id or 0, method.text, method.reply_markup, method.message_id
            )
        if isinstance(method, GetMe):
            return BOT_USER
        if isinstance(method, EditMessageReplyMarkup | AnswerCallbackQuery):
            return True
        if method.__returning__ is bool:
            return True
        return True

    def _message(
        self, chat_id: int | str, text: str, markup: Any, message_id: int | None = None
    ) -> Message:
        return Message(
            message_id=message_id or next(self._ids),
            date=int(time.time()),
            chat=Chat(id=int(chat_id), type="private"),
            from_user=BOT_USER,
            text=text,
            reply_markup=markup,
        )

    async def stream_content(self, *args: Any, **kwargs: Any) -> AsyncGenerator[bytes, None]:
        yield b""
