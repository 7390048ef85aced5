"""The customer's side of support: 💬 Support → write → the admins get a ticket."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from core.support import SupportError, customer_writes
from handlers.menu import MenuCallback, main_menu_keyboard
from handlers.support.views import (
    SupportCallback,
    relayed_text,
    support_problem_text,
    write_prompt,
)
from handlers.ui import NOT_A_COMMAND


class SupportFlow(StatesGroup):
    writing = State()


async def support_command(message: Message, state: FSMContext) -> None:
    await state.set_state(SupportFlow.writing)
    await message.answer(write_prompt())


async def support_button(query: CallbackQuery, state: FSMContext, bot: Bot) -> None:
    await state.set_state(SupportFlow.writing)
    await bot.send_message(query.from_user.id, write_prompt())


async def question_sent(
    message: Message,
    session: AsyncSession,
    state: FSMContext,
    settings: Settings,
    admin_ids: frozenset[int],
) -> None:
    assert message.from_user is not None
    try:
        relayed = await customer_writes(
            session,
            message.from_user.id,
            message.text or message.caption or "",
            source_key=f"tg:{message.chat.id}:{message.message_id}",
            admin_ids=admin_ids,
            per_hour=settings.support_messages_per_hour,
        )
    except SupportError as exc:
        if exc.code == "rate_limited":
            await state.clear()
        await message.answer(support_problem_text(exc.code, exc.details))
        return
    await state.clear()
    await message.answer(
        relayed_text(relayed.ticket_id, relayed.opened), reply_markup=main_menu_keyboard()
    )


async def not_text(message: Message) -> None:
    await message.answer(support_problem_text("empty", {}))


def create_router() -> Router:
    router = Router(name="support")
    router.message.register(support_command, Command("support"))
    router.callback_query.register(support_button, MenuCallback.filter(F.action == "support"))
    router.callback_query.register(support_button, SupportCallback.filter(F.action == "write"))
    router.message.register(question_sent, SupportFlow.writing, F.text, NOT_A_COMMAND)
    router.message.register(question_sent, SupportFlow.writing, F.caption)
    router.message.register(not_text, SupportFlow.writing, NOT_A_COMMAND)
    return router
