"""Drive the real Dispatcher with real Update objects (no network): `Chat.send`, `Chat.press`."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageText,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.types import CallbackQuery, Chat, Message, MessageEntity, Update, User

from tests.harness.recording_session import BOT_USER, RecordingSession

_update_ids = itertools.count(1)
_message_ids = itertools.count(1)


@dataclass
class Reply:
    """What the bot sent or edited in answer to one update."""

    calls: list[TelegramMethod[Any]]

    @property
    def texts(self) -> list[str]:
        """Message texts and photo captions, in the order sent."""
        return [
            c.text if isinstance(c, SendMessage | EditMessageText) else c.caption or ""
            for c in self.calls
            if isinstance(c, SendMessage | EditMessageText | SendPhoto)
        ]

    @property
    def text(self) -> str:
        assert self.texts, f"the bot sent no message; calls: {self.calls!r}"
        return self.texts[-1]

    @property
    def alerts(self) -> list[AnswerCallbackQuery]:
        return [c for c in self.calls if isinstance(c, AnswerCallbackQuery)]

    def buttons(self) -> list[tuple[str, str]]:
        """(text, callback_data) of the inline buttons of the last message with a keyboard."""
        for call in reversed(self.calls):
            markup = getattr(call, "reply_markup", None)
            if markup is not None and getattr(markup, "inline_keyboard", None):
                return [
                    (b.text, b.callback_data or "") for row in markup.inline_keyboard for b in row
                ]
        return []

    def button(self, text: str) -> str:
        """callback_data of the button whose text contains `text`."""
        matches = [data for label, data in self.buttons() if text in label]
        assert matches, f"no button {text!r}; buttons: {self.buttons()!r}"
        return matches[0]


@dataclass
class TgChat:
    dp: Dispatcher
    bot: Bot
    session: RecordingSession
    user: User
    last: Reply | None = field(default=None)

    async def _feed(self, update: Update) -> Reply:
        start = len(self.session.calls)
        await self.dp.feed_update(self.bot, update)
        self.last = Reply(self.session.calls[start:])
        return self.last

    def _message(self, text: str) -> Message:
        entities = None
        if text.startswith("/"):
            command = text.split()[0]
            entities = [MessageEntity(type="bot_command", offset=0, length=len(command))]
        return Message(
            message_id=next(_message_ids),
            date=int(time.time()),
            chat=Chat(id=self.user.id, type="private"),
            from_user=self.user,
            text=text,
            entities=entities,
        )

    async def send(self, text: str) -> Reply:
        return await self._feed(Update(update_id=next(_update_ids), message=self._message(text)))

    async def press(self, callback_data: str, message_text: str = "menu") -> Reply:
        message = Message(
            message_id=next(_message_ids),
            date=int(time.time()),
            chat=Chat(id=self.user.id, type="private"),
            from_user=BOT_USER,
            text=message_text,
        )
        query = CallbackQuery(
            id=str(next(_update_ids)),
            from_user=self.user,
            chat_instance="ci",
            data=callback_data,
            message=message,
        )
        return await self._feed(Update(update_id=next(_update_ids), callback_query=query))

    async def press_button(self, text: str) -> Reply:
        """Press the button labelled `text` on the last reply (like a person would)."""
        assert self.last is not None, "nothing to press yet"
        return await self.press(self.last.button(text))


def make_user(
    user_id: int = 1001,
    first_name: str = "Alice",
    language_code: str = "en",
    username: str | None = "alice",
) -> User:
    return User(
        id=user_id,
        is_bot=False,
        first_name=first_name,
        language_code=language_code,
        username=username,
    )
