"""Broadcast delivery through the outbox against the fake Bot API over HTTP: 1,000 customers,
some blocked, the sender restarted halfway (one run dies holding its claim), order
notifications first, progress edited to the end, a cancel stops what is left."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import create_i18n
from core import broadcast, notify
from db.engine import create_engine, make_sessionmaker, write_tx
from db.models import Notification, User
from handlers.broadcast.views import progress_views
from handlers.notifications import renderer
from scheduler.broadcasts import update_progress
from scheduler.pacing import Pacer
from scheduler.sender import OutboxSender
from tests.fakes.telegram_server import FakeTelegram
from tests.harness.claims import claim_due

ADMIN = 9001
CUSTOMERS = range(10_001, 11_001)  # 1,000
BLOCKED_IN_TELEGRAM = set(range(10_001, 11_001, 25))  # 40 blocked the bot since
KNOWN_BLOCKED = {10_002, 10_003}  # already marked: not in the audience at all


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def sm(any_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(any_database_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


_bots: list[Bot] = []


@pytest.fixture(autouse=True)
async def close_bots() -> AsyncIterator[None]:
    yield
    while _bots:
        await _bots.pop().session.close()


def new_bot(tg: FakeTelegram) -> Bot:
    bot = tg.create_bot(default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    _bots.append(bot)
    return bot


def new_sender(bot: Bot, sm: async_sessionmaker[AsyncSession], **kwargs: Any) -> OutboxSender:
    """A fresh sender as a restarted process has; Telegram's limits scaled up for the test."""
    pacer = Pacer(per_second=5000, chat_interval=0.001)
    options: dict[str, Any] = {"broadcast_rate": 250, "pacer": pacer}
    render = renderer(create_i18n("en"), currency="USD")
    return OutboxSender(bot, sm, render, **(options | kwargs))


async def seed(sm: async_sessionmaker[AsyncSession]) -> None:
    async with sm() as session, write_tx(session):
        session.add(User(id=ADMIN, first_name="Owner", language="en"))
        for user_id in CUSTOMERS:
            session.add(
                User(
                    id=user_id,
                    first_name=f"C{user_id}",
                    language="ru" if user_id % 3 == 0 else "en",
                    is_blocked=user_id in KNOWN_BLOCKED,
                )
            )


async def start_broadcast(
    sm: async_sessionmaker[AsyncSession], bot: Bot, audience: str = broadcast.ALL
) -> int:
    progress_message = await bot.send_message(ADMIN, "starting…")
    async with sm() as session:
        draft = await broadcast.create_draft(
            session, ADMIN, text="<b>Sale</b> −20% today", visible_length=20
        )
        await broadcast.set_button(session, draft.id, "Shop", "https://example.com/shop")
        await broadcast.start(
            session,
            draft.id,
            ADMIN,
            audience,
            progress_chat_id=ADMIN,
            progress_message_id=progress_message.message_id,
        )
        return draft.id


def deliveries(tg: FakeTelegram, chat_id: int) -> int:
    return len([c for c in tg.calls_of("sendMessage", chat_id=chat_id) if c.ok])


async def test_thousand_customers_some_blocked_restarted_halfway(
    tg: FakeTelegram, sm: async_sessionmaker[AsyncSession]
) -> None:
    await seed(sm)
    for user_id in BLOCKED_IN_TELEGRAM:
        tg.block(user_id)
    bot = new_bot(tg)
    broadcast_id = await start_broadcast(sm, bot)
    async with sm() as session:
        row = await broadcast.get(session, broadcast_id)
        assert row is not None and row.total == 1000 - len(KNOWN_BLOCKED) + 1  # + the admin

    # First process: two runs, then an order notification arrives; it goes first.
    first = new_sender(bot, sm)
    await first.run()
    await first.run()
    async with sm() as session, write_tx(session):
        notify.enqueue(session, 10_502, notify.BALANCE_CHANGE, {"amount": "5", "balance": "5"})
    calls_before = len(tg.calls)
    report = await first.run()
    assert report.sent > 1
    sends = [c for c in tg.calls[calls_before:] if c.method == "sendMessage"]
    assert "topped up" in sends[0].params["text"]  # before this run's broadcast rows
    await update_progress(bot, sm, progress_views(create_i18n("en")))
    middle = tg.find_message(ADMIN, row.progress_message_id)
    assert middle is not None and "sending" in middle.text and "Left:" in middle.text

    # The process dies holding a claim: those rows were never sent, and come back after
    # their lease (nobody sends them twice, nobody forgets them).
    lost = await claim_due(sm, limit=50, per_chat=1, lease=timedelta(seconds=1), broadcasts=True)
    assert len(lost) == 50
    await bot.session.close()

    # A restarted process with a new bot session resumes; the admin's message reaches the end.
    bot = new_bot(tg)
    second = new_sender(bot, sm)
    i18n = create_i18n("en")
    for _ in range(40):
        await second.run()
        await update_progress(bot, sm, progress_views(i18n))
        async with sm() as session:
            left = await session.scalar(
                select(func.count()).where(
                    Notification.broadcast_id == broadcast_id, Notification.status == "pending"
                )
            )
        if not left:
            break
        await asyncio.sleep(0.1)
    await update_progress(bot, sm, progress_views(i18n))
    await update_progress(bot, sm, progress_views(i18n))  # nothing changed: no edit

    final = tg.find_message(ADMIN, row.progress_message_id)
    assert final is not None
    assert "done" in final.text, final.text
    reachable = 1000 - len(KNOWN_BLOCKED) - len(BLOCKED_IN_TELEGRAM)
    assert f"Sent: {reachable + 1} · Blocked: {len(BLOCKED_IN_TELEGRAM)} · Failed: 0" in final.text
    assert "Left: 0 of 999" in final.text and "100%" in final.text
    assert final.buttons == []  # no Stop button once finished
    edits = tg.calls_of("editMessageText", chat_id=ADMIN)
    assert len(edits) == len({c.params["text"] for c in edits})  # every edit showed news

    for user_id in CUSTOMERS:
        expected = 0 if user_id in KNOWN_BLOCKED | BLOCKED_IN_TELEGRAM else 1
        if user_id == 10_502:
            expected += 1  # the balance notification
        assert deliveries(tg, user_id) == expected, user_id
    one = tg.calls_of("sendMessage", chat_id=10_001 + 1 + 3)[0].params
    assert one["text"] == "<b>Sale</b> −20% today"
    assert one["reply_markup"]["inline_keyboard"][0][0]["url"] == "https://example.com/shop"
    async with sm() as session:
        marked = set(await session.scalars(select(User.id).where(User.is_blocked.is_(True))))
    assert marked == BLOCKED_IN_TELEGRAM | KNOWN_BLOCKED


async def test_stop_skips_what_is_left_and_says_so(
    tg: FakeTelegram, sm: async_sessionmaker[AsyncSession]
) -> None:
    await seed(sm)
    bot = new_bot(tg)
    broadcast_id = await start_broadcast(sm, bot, audience="lang_ru")
    sender = new_sender(bot, sm, broadcast_rate=100)
    await sender.run()
    async with sm() as session:
        assert await broadcast.cancel(session, broadcast_id)
        assert not await broadcast.cancel(session, broadcast_id)  # a second tap: nothing
    for _ in range(3):
        await sender.run()
    await update_progress(bot, sm, progress_views(create_i18n("en")))
    russian = [u for u in CUSTOMERS if u % 3 == 0 and u not in KNOWN_BLOCKED]
    assert sum(deliveries(tg, u) for u in russian) == 100
    async with sm() as session:
        row = await broadcast.get(session, broadcast_id)
        assert row is not None and row.status == broadcast.CANCELLED
        progress = await broadcast.progress(session, row)
    assert (progress.sent, progress.cancelled, progress.left) == (100, len(russian) - 100, 0)
    shown = tg.find_message(ADMIN, row.progress_message_id)
    assert shown is not None and "stopped" in shown.text
    assert f"Not sent (stopped): {len(russian) - 100}" in shown.text


async def test_a_photo_telegram_refuses_fails_once_not_forever(
    tg: FakeTelegram, sm: async_sessionmaker[AsyncSession]
) -> None:
    async with sm() as session, write_tx(session):
        session.add_all([User(id=ADMIN, first_name="O"), User(id=10_001, first_name="C")])
    bot = new_bot(tg)
    async with sm() as session:
        draft = await broadcast.create_draft(
            session, ADMIN, text="caption", photo_file_id="photo-1", visible_length=7
        )
        await broadcast.start(
            session, draft.id, ADMIN, "all", progress_chat_id=ADMIN, progress_message_id=1
        )
    tg.fail_next("sendPhoto", chat_id=10_001, error_code=400, description="Bad Request: wrong file")
    sender = new_sender(bot, sm)
    await sender.run()
    async with sm() as session:
        await session.execute(update(Notification).values(next_attempt_at=Notification.created_at))
        await session.commit()
    await sender.run()
    assert len(tg.calls_of("sendPhoto", chat_id=10_001)) == 1
    assert len([c for c in tg.calls_of("sendPhoto", chat_id=ADMIN) if c.ok]) == 1
    async with sm() as session:
        row = await broadcast.get(session, draft.id)
        assert row is not None
        progress = await broadcast.progress(session, row)
    assert (progress.sent, progress.failed, progress.left) == (1, 1, 0)
