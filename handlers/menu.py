"""/start, /help, /language and the main menu (SPEC §3)."""

from __future__ import annotations

from aiogram import F, Router, html
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from core import referrals
from core.users import set_language
from db.models import User
from handlers.help import help_text
from handlers.ui import answers_itself

LANGUAGE_NAMES = {"en": "English", "ru": "Русский"}


class MenuCallback(CallbackData, prefix="menu"):
    action: str  # new_order | orders | balance | support | referrals | help | home


class LanguageCallback(CallbackData, prefix="lang"):
    code: str


def main_menu_keyboard() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("🛒 New order"), callback_data=MenuCallback(action="new_order"))
    kb.button(text=_("📦 My orders"), callback_data=MenuCallback(action="orders"))
    kb.button(text=_("💰 Balance"), callback_data=MenuCallback(action="balance"))
    kb.button(text=_("👥 Referrals"), callback_data=MenuCallback(action="referrals"))
    kb.button(text=_("💬 Support"), callback_data=MenuCallback(action="support"))
    kb.button(text=_("❓ Help"), callback_data=MenuCallback(action="help"))
    kb.adjust(2)
    return kb.as_markup()


def welcome_text(user: User) -> str:
    return _(
        "👋 Hello, {name}!\n\n"
        "Order followers, likes, views and more: pick a service, send a link and a quantity, "
        "and your order goes to work at once. You get a message on every status change."
    ).format(name=html.quote(user.first_name or user.username or str(user.id)))


async def start(
    message: Message,
    user: User,
    state: FSMContext,
    session: AsyncSession,
    command: CommandObject,
) -> None:
    await state.clear()
    if command.args:  # t.me/<bot>?start=<code>: a referral link
        await referrals.attribute(session, user.id, command.args)
    await message.answer(welcome_text(user), reply_markup=main_menu_keyboard())


async def home(query: CallbackQuery, user: User, state: FSMContext) -> None:
    await state.clear()
    if query.message is not None:
        await query.message.answer(welcome_text(user), reply_markup=main_menu_keyboard())


async def help_command(message: Message) -> None:
    await message.answer(help_text(), reply_markup=main_menu_keyboard())


async def help_button(query: CallbackQuery) -> None:
    if query.message is not None:
        await query.message.answer(help_text(), reply_markup=main_menu_keyboard())


async def language(message: Message, i18n: I18n) -> None:
    kb = InlineKeyboardBuilder()
    for code in sorted(i18n.available_locales):
        kb.button(text=LANGUAGE_NAMES.get(code, code), callback_data=LanguageCallback(code=code))
    await message.answer(_("Choose your language:"), reply_markup=kb.as_markup())


@answers_itself
async def language_chosen(
    query: CallbackQuery,
    callback_data: LanguageCallback,
    session: AsyncSession,
    user: User,
    i18n: I18n,
) -> None:
    if callback_data.code not in i18n.available_locales:
        await query.answer(_("This language is not available."), show_alert=True)
        return
    await set_language(session, user.id, callback_data.code)
    with i18n.use_locale(callback_data.code):
        await query.answer()
        if query.message is not None:
            await query.message.answer(
                _("Language set: {language}").format(
                    language=LANGUAGE_NAMES.get(callback_data.code, callback_data.code)
                ),
                reply_markup=main_menu_keyboard(),
            )


def create_router() -> Router:
    router = Router(name="menu")
    router.message.register(start, CommandStart())
    router.callback_query.register(home, MenuCallback.filter(F.action == "home"))
    router.message.register(help_command, Command("help"))
    router.callback_query.register(help_button, MenuCallback.filter(F.action == "help"))
    router.message.register(language, Command("language"))
    router.callback_query.register(language_chosen, LanguageCallback.filter())
    return router
