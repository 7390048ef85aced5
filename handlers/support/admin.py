"""The admins' side of support: answer by replying to a ticket (or /reply), /tickets, close.

Only a reply to a ticket message (the bot's, carrying the ticket's buttons) or /reply with a
ticket id reaches a customer: nothing else an admin types is ever relayed.
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import BaseFilter, Command, CommandObject
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from core.numbers import parse_id
from core.support import (
    SupportError,
    admin_answers,
    close_ticket,
    open_ticket_count,
    open_tickets,
    ticket_view,
)
from handlers.support.views import (
    TicketCallback,
    already_closed_text,
    answered_text,
    closed_by_admin_text,
    reply_usage_text,
    support_problem_text,
    thread_text,
    ticket_keyboard,
    ticket_of,
    tickets_keyboard,
    tickets_text,
)
from handlers.ui import answers_itself, show


class RepliesToTicket(BaseFilter):
    """A reply to one of the bot's ticket messages; passes `ticket_id` on."""

    async def __call__(self, message: Message, bot: Bot) -> bool | dict[str, Any]:
        replied = message.reply_to_message
        if replied is None or replied.from_user is None or replied.from_user.id != bot.id:
            return False
        ticket_id = ticket_of(replied)
        return False if ticket_id is None else {"ticket_id": ticket_id}


async def _answer(message: Message, session: AsyncSession, ticket_id: int, text: str) -> None:
    assert message.from_user is not None
    try:
        await admin_answers(
            session,
            ticket_id,
            message.from_user.id,
            text,
            source_key=f"tg:{message.chat.id}:{message.message_id}",
        )
    except SupportError as exc:
        await message.answer(support_problem_text(exc.code, exc.details))
        return
    await message.answer(answered_text(ticket_id))


async def reply_to_ticket(message: Message, session: AsyncSession, ticket_id: int) -> None:
    await _answer(message, session, ticket_id, message.text or "")


async def reply_not_text(message: Message) -> None:
    await message.answer(support_problem_text("empty", {}))


async def reply_command(message: Message, command: CommandObject, session: AsyncSession) -> None:
    parts = (command.args or "").split(maxsplit=1)
    ticket_id = parse_id(parts[0]) if parts else None
    if len(parts) != 2 or ticket_id is None:
        await message.answer(reply_usage_text())
        return
    await _answer(message, session, ticket_id, parts[1])


async def tickets_command(message: Message, session: AsyncSession) -> None:
    views = await open_tickets(session)
    await message.answer(
        tickets_text(views, await open_ticket_count(session)), reply_markup=tickets_keyboard(views)
    )


@answers_itself
async def view_ticket(
    query: CallbackQuery, callback_data: TicketCallback, session: AsyncSession, bot: Bot
) -> None:
    view = await ticket_view(session, callback_data.ticket_id)
    if view is None:
        await query.answer(
            support_problem_text("unknown_ticket", {"ticket_id": callback_data.ticket_id}),
            show_alert=True,
        )
        return
    await query.answer()
    # A new message (not an edit): it carries the ticket's buttons, so replying to it answers.
    markup = ticket_keyboard(view.ticket.id) if view.ticket.status == "open" else None
    await bot.send_message(query.from_user.id, thread_text(view), reply_markup=markup)


@answers_itself
async def close_button(
    query: CallbackQuery, callback_data: TicketCallback, session: AsyncSession, bot: Bot
) -> None:
    ticket_id = callback_data.ticket_id
    try:
        closed = await close_ticket(session, ticket_id, query.from_user.id)
    except SupportError as exc:
        await query.answer(support_problem_text(exc.code, exc.details), show_alert=True)
        return
    text = closed_by_admin_text(ticket_id) if closed else already_closed_text(ticket_id)
    await query.answer(text)
    if isinstance(query.message, Message) and query.message.text:
        await show(query, bot, query.message.html_text + "\n\n" + text)


def create_router() -> Router:
    """Mounted under the admin console's router (ADMIN_IDS only)."""
    router = Router(name="admin.support")
    router.message.register(reply_to_ticket, RepliesToTicket(), F.text, ~F.text.startswith("/"))
    router.message.register(reply_not_text, RepliesToTicket(), ~F.text)
    router.message.register(reply_command, Command("reply"))
    router.message.register(tickets_command, Command("tickets"))
    router.callback_query.register(view_ticket, TicketCallback.filter(F.action == "view"))
    router.callback_query.register(close_button, TicketCallback.filter(F.action == "close"))
    return router
