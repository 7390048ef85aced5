"""Support's callback data, keyboards and texts (pure functions of their arguments)."""

from __future__ import annotations

from typing import Any

from aiogram import html
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.support import TicketView
from handlers.order_views import status_label
from handlers.ui import ButtonId, clip


class SupportCallback(CallbackData, prefix="sup"):
    """The customer's buttons: write to support."""

    action: str  # write


class TicketCallback(CallbackData, prefix="tkt"):
    """The admins' buttons on a ticket; the id also marks a message as the ticket's, so a
    reply to it is an answer to that ticket."""

    action: str  # close | view
    ticket_id: ButtonId


def ticket_of(message: Message | None) -> int | None:
    """The ticket a bot message belongs to (read from its buttons), or None."""
    markup = message.reply_markup if message is not None else None
    if markup is None:
        return None
    for row in markup.inline_keyboard:
        for button in row:
            data = button.callback_data or ""
            if data.startswith(TicketCallback.__prefix__ + ":"):
                try:
                    return TicketCallback.unpack(data).ticket_id
                except (TypeError, ValueError):
                    return None
    return None


# --- the customer's side ----------------------------------------------------------------


def write_prompt() -> str:
    return _(
        "💬 <b>Support</b>\nWrite your question in one message (text). An admin will answer "
        "here in this chat. /cancel to leave."
    )


def relayed_text(ticket_id: int, opened: bool) -> str:
    if opened:
        return _("✅ Ticket #{id} opened. We will answer here as soon as we can.").format(
            id=ticket_id
        )
    return _("✅ Added to your ticket #{id}. We will answer here.").format(id=ticket_id)


def support_problem_text(code: str, details: dict[str, Any]) -> str:
    if code == "rate_limited":
        return _(
            "You have written to support many times in the last hour. Please wait about "
            "{minutes} min; we will answer what you sent."
        ).format(minutes=details.get("minutes", 60))
    if code == "closed":
        return _("Ticket #{id} is closed.").format(id=details.get("ticket_id"))
    if code == "unknown_ticket":
        return _("There is no ticket #{id}.").format(id=details.get("ticket_id"))
    return _("Please write your question as a text message.")


def write_again_keyboard() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("💬 Reply"), callback_data=SupportCallback(action="write"))
    return kb.as_markup()


def answer_text(payload: dict[str, Any], currency: str) -> str:
    return _("💬 <b>Support</b> · ticket #{id}\n\n{text}").format(
        id=payload.get("ticket_id"), text=html.quote(str(payload.get("text") or ""))
    )


def closed_text(payload: dict[str, Any], currency: str) -> str:
    return _(
        "✅ Ticket #{id} is closed. Write to 💬 Support any time if you need us again."
    ).format(id=payload.get("ticket_id"))


# --- the admins' side -------------------------------------------------------------------


def customer_line(user_id: Any, name: Any, username: Any) -> str:
    who = html.quote(str(name or "")) or str(user_id)
    if username:
        who += f" (@{html.quote(str(username))})"
    return _("{who}, id <code>{id}</code>").format(who=who, id=user_id)


def ticket_text(payload: dict[str, Any], currency: str) -> str:
    """A customer's message as the admins get it (the outbox renders it)."""
    title = _("🎫 <b>New ticket #{id}</b>") if payload.get("new") else _("🎫 <b>Ticket #{id}</b>")
    lines = [
        title.format(id=payload.get("ticket_id")),
        _("From: {customer}").format(
            customer=customer_line(
                payload.get("user_id"), payload.get("name"), payload.get("username")
            )
        ),
    ]
    orders = payload.get("orders") or []
    if orders:
        lines.append(
            _("Recent orders: {orders}").format(
                orders="; ".join(
                    f"#{o.get('id')} {html.quote(clip(str(o.get('service') or ''), 40))} "
                    f"({status_label(o.get('status'))})"
                    for o in orders
                )
            )
        )
    else:
        lines.append(_("No orders yet."))
    lines += ["", html.quote(str(payload.get("text") or "")), ""]
    lines.append(
        _("↩️ Reply to this message to answer (or /reply {id} TEXT).").format(
            id=payload.get("ticket_id")
        )
    )
    return "\n".join(lines)


def ticket_keyboard(ticket_id: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(
        text=_("📜 History"), callback_data=TicketCallback(action="view", ticket_id=ticket_id)
    )
    kb.button(
        text=_("✖ Close #{id}").format(id=ticket_id),
        callback_data=TicketCallback(action="close", ticket_id=ticket_id),
    )
    kb.adjust(2)
    return kb.as_markup()


def ticket_payload_keyboard(payload: dict[str, Any]) -> InlineKeyboardMarkup | None:
    ticket_id = payload.get("ticket_id")
    return ticket_keyboard(int(ticket_id)) if isinstance(ticket_id, int) else None


def answer_payload_keyboard(payload: dict[str, Any]) -> InlineKeyboardMarkup | None:
    return write_again_keyboard()


def thread_text(view: TicketView) -> str:
    ticket, user = view.ticket, view.user
    status = _("open") if ticket.status == "open" else _("closed")
    lines = [
        _("🎫 <b>Ticket #{id}</b> · {status}").format(id=ticket.id, status=status),
        _("From: {customer}").format(
            customer=customer_line(user.id, user.first_name, user.username)
        ),
    ]
    if view.total > len(view.messages):
        lines.append(_("… {count} earlier messages").format(count=view.total - len(view.messages)))
    for message in view.messages:
        who = _("Admin") if message.from_admin else _("Customer")
        lines.append(
            f"\n<b>{who}</b> · {message.created_at:%Y-%m-%d %H:%M}\n"
            f"{html.quote(clip(message.text, 400))}"
        )
    return "\n".join(lines)


def tickets_text(views: list[TicketView], total: int) -> str:
    if not views:
        return _("No open tickets. 🎉")
    lines = [_("<b>Open tickets</b> ({count})").format(count=total)]
    for view in views:
        last = view.messages[-1].text if view.messages else ""
        lines.append(
            _("#{id} · {customer} · {when}\n   {last}").format(
                id=view.ticket.id,
                customer=html.quote(view.user.first_name or str(view.user.id)),
                when=f"{view.ticket.updated_at:%Y-%m-%d %H:%M}",
                last=html.quote(clip(last, 80)),
            )
        )
    lines.append("")
    lines.append(_("Open one to read and answer it; reply to a ticket message to answer."))
    return "\n".join(lines)


def tickets_keyboard(views: list[TicketView]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for view in views:
        kb.button(
            text=f"#{view.ticket.id} {clip(view.user.first_name or str(view.user.id), 20)}",
            callback_data=TicketCallback(action="view", ticket_id=view.ticket.id),
        )
    kb.adjust(2)
    return kb.as_markup()


def answered_text(ticket_id: int) -> str:
    return _("✅ Sent to the customer (ticket #{id}).").format(id=ticket_id)


def closed_by_admin_text(ticket_id: int) -> str:
    return _("✅ Ticket #{id} closed; the customer was told.").format(id=ticket_id)


def already_closed_text(ticket_id: int) -> str:
    return _("Ticket #{id} is already closed.").format(id=ticket_id)


def reply_usage_text() -> str:
    return _("Usage: /reply TICKET_ID TEXT (or reply to the ticket message).")
