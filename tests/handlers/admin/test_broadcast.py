"""/broadcast in the admin console through the real Dispatcher: message, button, audience,
send once, cancel; customers cannot start one."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiogram.methods import SendPhoto
from aiogram.types import Chat, Message, PhotoSize, Update
from sqlalchemy import func, select

from db.models import Broadcast, Notification
from tests.harness.dispatcher import TgChat
from tests.harness.settings import ADMIN_ID

if TYPE_CHECKING:
    from bot.app import App


async def customers(chat: Callable[..., TgChat], *ids: int, language: str = "en") -> None:
    for user_id in ids:
        await chat(user_id, language_code=language).send("/start")


async def queued(app: App) -> int:
    async with app.sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).where(Notification.broadcast_id.is_not(None))
        )
    return int(count or 0)


async def test_text_with_button_to_one_language(app: App, chat: Callable[..., TgChat]) -> None:
    await customers(chat, 1001, 1002)
    await customers(chat, 1003, language="ru")
    owner = chat(ADMIN_ID, first_name="Owner")
    assert "Send the message" in (await owner.send("/broadcast")).text
    reply = await owner.send("Big <sale> today")
    assert "link button" in reply.text
    reply = await owner.send("no separator here")
    assert "Button text | https://link" in reply.text
    reply = await owner.send("Open shop | https://example.com/x")
    preview, control = reply.calls[-2], reply.calls[-1]
    assert preview.text == "Big &lt;sale&gt; today"  # the admin's text, as customers get it
    assert preview.reply_markup.inline_keyboard[0][0].url == "https://example.com/x"
    assert "Everyone</b> · 4 customers" in control.text  # three customers and the owner
    reply = await owner.press(reply.button("Language: Русский"))
    assert "Language: Русский</b> · 1 customers" in reply.text
    reply = await owner.press(reply.button("Send to 1"))
    assert "Broadcast #1" in reply.text and "sending" in reply.text
    assert await queued(app) == 1
    # A second tap on Send (or a replay) queues nothing more.
    again = await owner.press(reply.button("Stop").replace("stop", "send"))
    assert "already started" in again.alerts[-1].text
    assert await queued(app) == 1
    async with app.sessionmaker() as session:
        row = await session.scalar(select(Broadcast))
        assert row is not None and row.audience == "lang_ru" and row.total == 1


async def test_photo_with_caption_and_cancel(app: App, chat: Callable[..., TgChat]) -> None:
    await customers(chat, 1001)
    owner = chat(ADMIN_ID)
    await owner.send("/broadcast")
    photo = Message(
        message_id=777,
        date=int(time.time()),
        chat=Chat(id=ADMIN_ID, type="private"),
        from_user=owner.user,
        photo=[
            PhotoSize(file_id="small", file_unique_id="s", width=90, height=90),
            PhotoSize(file_id="big", file_unique_id="b", width=800, height=800),
        ],
        caption="New <b>prices</b>",
    )
    reply = await owner._feed(Update(update_id=999_001, message=photo))
    assert "link button" in reply.text
    reply = await owner.press(reply.button("Skip"))
    sent_photo = [c for c in reply.calls if isinstance(c, SendPhoto)]
    assert sent_photo and sent_photo[0].photo == "big"
    assert sent_photo[0].caption == "New &lt;b&gt;prices&lt;/b&gt;"
    reply = await owner.press(reply.button("Cancel"))
    assert "cancelled; nothing was sent" in reply.text
    assert await queued(app) == 0


async def test_too_long_and_wrong_input(app: App, chat: Callable[..., TgChat]) -> None:
    owner = chat(ADMIN_ID)
    await owner.send("/broadcast")
    assert "at most 4096" in (await owner.send("x" * 4097)).text
    assert "Cancelled" in (await owner.send("/cancel")).text


async def test_customers_cannot_broadcast(app: App, chat: Callable[..., TgChat]) -> None:
    alice = chat(1001)
    assert "Unknown command" in (await alice.send("/broadcast")).text
    reply = await alice.press("bc:send:1:all")
    assert "no longer active" in reply.alerts[-1].text
