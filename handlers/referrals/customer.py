"""👥 Referrals: the customer's link, how many they invited and what they earned."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from core import referrals
from db.models import User
from handlers.menu import MenuCallback, main_menu_keyboard
from handlers.referrals.views import link_for, referrals_text


async def screen(bot: Bot, session: AsyncSession, user: User, currency: str) -> str:
    me = await bot.me()
    return referrals_text(
        link_for(me.username, referrals.referral_code(user.id)),
        await referrals.summary(session, user.id),
        await referrals.terms(session),
        currency,
    )


async def referrals_command(
    message: Message, bot: Bot, session: AsyncSession, user: User, currency: str
) -> None:
    text = await screen(bot, session, user, currency)
    await message.answer(text, reply_markup=main_menu_keyboard())


async def referrals_button(
    query: CallbackQuery, bot: Bot, session: AsyncSession, user: User, currency: str
) -> None:
    text = await screen(bot, session, user, currency)
    await bot.send_message(query.from_user.id, text, reply_markup=main_menu_keyboard())


def create_router() -> Router:
    router = Router(name="referrals")
    router.message.register(referrals_command, Command("referrals"))
    router.callback_query.register(referrals_button, MenuCallback.filter(F.action == "referrals"))
    return router
