"""Last router: anything nobody else handled gets a short, honest answer."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from handlers.ui import answers_itself


def unknown_command_text() -> str:
    return _("Unknown command. Send /help to see what I can do.")


async def unknown_message(message: Message) -> None:
    await message.answer(unknown_command_text())


@answers_itself
async def stale_button(query: CallbackQuery) -> None:
    await query.answer(_("This button is no longer active."), show_alert=True)


def create_router() -> Router:
    router = Router(name="fallback")
    router.message.register(unknown_message)
    router.callback_query.register(stale_button)
    return router
