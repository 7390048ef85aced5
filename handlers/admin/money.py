"""Customers and money: /topup, /user."""

from __future__ import annotations

from aiogram import Router, html
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from core import admin_queries, billing
from core.admin_actions import ActionError, topup
from db.models import User
from handlers.admin.common import amount, answer_long, args_of, to_amount, to_int, usage, when
from handlers.ui import inline

LAST_ORDERS = 10
LEDGER_TAIL = 10


def topup_usage() -> str:
    return usage(
        "/topup USER_ID AMOUNT [note]",
        _("A negative AMOUNT takes money back, e.g. <code>/topup 1001 -5 correction</code>."),
    )


def user_label(user: User) -> str:
    name = inline(user.first_name, 40)
    if user.username:
        name += f" (@{inline(user.username, 40)})"
    return name


def action_error_text(error: ActionError, currency: str) -> str:
    d = error.details
    texts = {
        "zero_amount": _("The amount must not be zero."),
        "unknown_user": _(
            "No user {id}: a customer appears here after their first message to the bot."
        ).format(id=d.get("user_id")),
        "would_go_negative": _(
            "Refused: user {id} has {balance} {currency}; balances never go below zero."
        ).format(id=d.get("user_id"), balance=amount(d.get("balance")), currency=currency),
    }
    return texts.get(error.code, html.quote(error.code))


async def topup_command(
    message: Message, command: CommandObject, session: AsyncSession, currency: str
) -> None:
    parts = (command.args or "").split(maxsplit=2)
    user_id = to_int(parts[0]) if len(parts) >= 2 else None
    value = to_amount(parts[1]) if len(parts) >= 2 else None
    if user_id is None or value is None or value == 0:
        await message.answer(topup_usage())
        return
    note = parts[2].strip()[:500] if len(parts) == 3 else None
    assert message.from_user is not None
    try:
        entry = await topup(
            session,
            user_id,
            value,
            admin_id=message.from_user.id,
            # One Telegram message is one top-up, even if the update is delivered twice.
            key=f"admin:{message.chat.id}:{message.message_id}",
            note=note,
            currency=currency,
        )
    except ActionError as error:
        await message.answer(action_error_text(error, currency))
        return
    template = (
        _("✅ Credited {amount} {currency} to user {id}.")
        if entry.amount > 0
        else _("✅ Debited {amount} {currency} from user {id}.")
    )
    await message.answer(
        "\n".join(
            [
                template.format(amount=amount(abs(entry.amount)), currency=currency, id=user_id),
                _("New balance: {balance} {currency}. The customer gets a message.").format(
                    balance=amount(entry.balance_after), currency=currency
                ),
            ]
        )
    )


async def user_command(
    message: Message, command: CommandObject, session: AsyncSession, currency: str
) -> None:
    args = args_of(command)
    user_id = to_int(args[0]) if len(args) == 1 else None
    if user_id is None:
        await message.answer(usage("/user USER_ID"))
        return
    user = await admin_queries.fresh_user(session, user_id)
    if user is None:
        await message.answer(
            action_error_text(ActionError("unknown_user", user_id=user_id), currency)
        )
        return
    await answer_long(message, await user_card(session, user, currency))


def create_router() -> Router:
    router = Router(name="admin.money")
    router.message.register(topup_command, Command("topup"))
    router.message.register(user_command, Command("user"))
    return router


async def user_card(session: AsyncSession, user: User, currency: str) -> list[str]:
    ledger = await billing.ledger_sum(session, user.id)
    lines = [
        _("<b>User {id}</b> · {name} · language {language}").format(
            id=user.id, name=user_label(user), language=html.quote(user.language or "—")
        ),
        _("Balance: {balance} {currency}").format(balance=amount(user.balance), currency=currency),
        _("Registered {when}.").format(when=when(user.created_at)),
    ]
    if ledger != user.balance:
        lines.append(
            _("⚠️ The ledger sums to {ledger}: the balance does not match!").format(
                ledger=amount(ledger)
            )
        )
    if user.is_blocked:
        lines.append(_("⛔ Has blocked the bot: messages are not delivered."))
    counts = await admin_queries.order_counts(session, user.id)
    total = sum(counts.values())
    by_status = ", ".join(f"{html.quote(s)} {n}" for s, n in sorted(counts.items()))
    lines.append(
        _("Orders: {total}").format(total=total) + (f" ({by_status})" if by_status else "")
    )
    orders = await admin_queries.last_orders(session, user.id, LAST_ORDERS)
    order_lines = [
        f"#{o.id} · {inline(o.service.name, 40)} · {html.quote(o.status)} · "
        f"{amount(o.charge)} · {when(o.created_at)}"
        for o in orders
    ]
    if order_lines:
        lines += ["", _("<b>Last orders</b> (details: /order ID)"), *order_lines]
    entries = await billing.recent_entries(session, user.id, limit=LEDGER_TAIL)
    if entries:
        lines += ["", _("<b>Ledger</b> (newest first)")]
        for entry in entries:
            order = f" #{entry.order_id}" if entry.order_id else ""
            admin = " " + _("by admin {id}").format(id=entry.admin_id) if entry.admin_id else ""
            note = f" · {inline(entry.note, 60)}" if entry.note else ""
            lines.append(
                f"{when(entry.created_at)} {'+' if entry.amount > 0 else ''}{amount(entry.amount)} "
                f"{html.quote(entry.kind)}{order}{admin}{note} → {amount(entry.balance_after)}"
            )
    return lines
