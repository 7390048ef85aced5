"""/broadcast: message → optional link button → preview with the audience → send → progress.

The delivery itself is the outbox's (core.broadcast queues it; the sender sends it under
Telegram's limits after every other notification; scheduler.broadcasts edits the progress).
"""

from __future__ import annotations

import re

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from core import broadcast
from core.broadcast import BroadcastError
from handlers.broadcast.views import (
    BroadcastCallback,
    button_prompt,
    dropped_text,
    message_prompt,
    preview_keyboard,
    preview_text,
    problem_text,
    progress_keyboard,
    progress_text,
    skip_keyboard,
)
from handlers.ui import NOT_A_COMMAND, answers_itself, show
from scheduler.sender import send_broadcast

BUTTON_RE = re.compile(r"^(?P<text>[^|]{1,64}?)\s*\|\s*(?P<url>https?://\S{1,500})$")


class BroadcastFlow(StatesGroup):
    message = State()
    button = State()


async def broadcast_command(message: Message, state: FSMContext) -> None:
    await state.set_state(BroadcastFlow.message)
    await message.answer(message_prompt())


async def message_sent(message: Message, session: AsyncSession, state: FSMContext) -> None:
    assert message.from_user is not None
    photo = message.photo[-1].file_id if message.photo else None
    visible = message.caption if photo else message.text
    try:
        draft = await broadcast.create_draft(
            session,
            message.from_user.id,
            text=message.html_text if visible else None,
            photo_file_id=photo,
            visible_length=len(visible or ""),
        )
    except BroadcastError as exc:
        await message.answer(problem_text(exc.code, exc.details))
        return
    await state.set_state(BroadcastFlow.button)
    await state.set_data({"broadcast_id": draft.id})
    await message.answer(button_prompt(), reply_markup=skip_keyboard(draft.id))


async def not_a_message(message: Message) -> None:
    await message.answer(problem_text("empty", {}))


async def button_not_text(message: Message, state: FSMContext) -> None:
    data = await state.get_data()
    await message.answer(
        problem_text("bad_button", {}), reply_markup=skip_keyboard(data.get("broadcast_id", 0))
    )


async def button_sent(
    message: Message, session: AsyncSession, state: FSMContext, bot: Bot, i18n: I18n
) -> None:
    data = await state.get_data()
    found = BUTTON_RE.match((message.text or "").strip())
    if found is None or "broadcast_id" not in data:
        await message.answer(
            problem_text("bad_button", {}), reply_markup=skip_keyboard(data.get("broadcast_id", 0))
        )
        return
    broadcast_id = int(data["broadcast_id"])
    await broadcast.set_button(
        session, broadcast_id, found.group("text").strip(), found.group("url")
    )
    await state.clear()
    await send_preview(bot, session, message.chat.id, broadcast_id, i18n)


async def skip_button(
    query: CallbackQuery,
    callback_data: BroadcastCallback,
    session: AsyncSession,
    state: FSMContext,
    bot: Bot,
    i18n: I18n,
) -> None:
    await state.clear()
    await send_preview(bot, session, query.from_user.id, callback_data.broadcast_id, i18n)


async def send_preview(
    bot: Bot, session: AsyncSession, chat_id: int, broadcast_id: int, i18n: I18n
) -> None:
    """The message exactly as customers will get it, then the audience and Send."""
    draft = await broadcast.get(session, broadcast_id)
    if draft is None:
        return
    await send_broadcast(bot, chat_id, draft)
    sizes = await broadcast.audience_sizes(session, sorted(i18n.available_locales))
    await bot.send_message(
        chat_id,
        preview_text(broadcast_id, broadcast.ALL, sizes),
        reply_markup=preview_keyboard(broadcast_id, broadcast.ALL, sizes),
    )


async def audience_chosen(
    query: CallbackQuery,
    callback_data: BroadcastCallback,
    session: AsyncSession,
    bot: Bot,
    i18n: I18n,
) -> None:
    sizes = await broadcast.audience_sizes(session, sorted(i18n.available_locales))
    audience = callback_data.audience if callback_data.audience in sizes else broadcast.ALL
    await show(
        query,
        bot,
        preview_text(callback_data.broadcast_id, audience, sizes),
        preview_keyboard(callback_data.broadcast_id, audience, sizes),
    )


@answers_itself
async def send_chosen(
    query: CallbackQuery, callback_data: BroadcastCallback, session: AsyncSession, bot: Bot
) -> None:
    if not isinstance(query.message, Message):
        await query.answer(problem_text("unknown", {}), show_alert=True)
        return
    try:
        started = await broadcast.start(
            session,
            callback_data.broadcast_id,
            query.from_user.id,
            callback_data.audience,
            progress_chat_id=query.message.chat.id,
            progress_message_id=query.message.message_id,
        )
    except BroadcastError as exc:
        await query.answer(problem_text(exc.code, exc.details), show_alert=True)
        return
    await query.answer()
    progress = await broadcast.progress(session, started)
    await show(query, bot, progress_text(progress), progress_keyboard(progress))


@answers_itself
async def drop_chosen(
    query: CallbackQuery, callback_data: BroadcastCallback, session: AsyncSession, bot: Bot
) -> None:
    draft = await broadcast.get(session, callback_data.broadcast_id)
    if draft is None or draft.status != broadcast.DRAFT:
        await query.answer(problem_text("not_draft", {}), show_alert=True)
        return
    await broadcast.cancel(session, callback_data.broadcast_id)
    await query.answer()
    await show(query, bot, dropped_text(callback_data.broadcast_id))


async def stop_chosen(
    query: CallbackQuery, callback_data: BroadcastCallback, session: AsyncSession, bot: Bot
) -> None:
    stopped = await broadcast.cancel(session, callback_data.broadcast_id)
    row = await broadcast.get(session, callback_data.broadcast_id)
    if stopped and row is not None:
        progress = await broadcast.progress(session, row)
        await show(query, bot, progress_text(progress), progress_keyboard(progress))


def create_router() -> Router:
    """Mounted under the admin console's router (ADMIN_IDS only)."""
    router = Router(name="admin.broadcast")
    router.message.register(broadcast_command, Command("broadcast"))
    router.message.register(message_sent, BroadcastFlow.message, F.text, NOT_A_COMMAND)
    router.message.register(message_sent, BroadcastFlow.message, F.photo)
    router.message.register(not_a_message, BroadcastFlow.message, NOT_A_COMMAND)
    router.message.register(button_sent, BroadcastFlow.button, F.text, NOT_A_COMMAND)
    router.message.register(button_not_text, BroadcastFlow.button, NOT_A_COMMAND)
    callbacks = {
        "skip": skip_button,
        "audience": audience_chosen,
        "send": send_chosen,
        "drop": drop_chosen,
        "stop": stop_chosen,
    }
    for action, handler in callbacks.items():
        router.callback_query.register(handler, BroadcastCallback.filter(F.action == action))
    return router
