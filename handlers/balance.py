"""/balance and the "Balance" button: the balance as a number and the last ledger entries."""

from __future__ import annotations

from aiogram import F, Router, html
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from core.billing import recent_entries
from core.money import format_money
from core.statuses import LedgerKind
from db.models import LedgerEntry, User
from handlers.menu import MenuCallback
from handlers.payments.keyboards import topup_button_keyboard
from handlers.ui import clip


def ledger_kind_label(kind: str) -> str:
    labels = {
        LedgerKind.TOPUP: _("Top-up"),
        LedgerKind.ADMIN_DEBIT: _("Correction"),
        LedgerKind.ORDER_CHARGE: _("Order"),
        LedgerKind.REFUND: _("Refund"),
        LedgerKind.PAYMENT: _("Payment"),
        LedgerKind.PAYMENT_REFUND: _("Payment refund"),
    }
    return labels.get(kind, kind)


def ledger_line(entry: LedgerEntry, currency: str) -> str:
    sign = "+" if entry.amount > 0 else "−"
    order = f" #{entry.order_id}" if entry.order_id else ""
    note = f" · {html.quote(clip(entry.note, 100))}" if entry.note else ""  # 10 fit a message
    return (
        f"{entry.created_at:%Y-%m-%d %H:%M} {sign}{format_money(abs(entry.amount))} {currency} "
        f"{ledger_kind_label(entry.kind)}{order}{note}"
    )


async def balance_text(session: AsyncSession, user: User, currency: str) -> str:
    await session.refresh(user, ["balance"])
    lines = [
        _("Balance: {amount} {currency}").format(
            amount=format_money(user.balance), currency=currency
        )
    ]
    entries = await recent_entries(session, user.id, limit=10)
    if entries:
        lines += ["", _("<b>Recent activity</b>")]
        lines += [ledger_line(entry, currency) for entry in entries]
    else:
        lines += ["", _("No payments or orders yet.")]
    return "\n".join(lines)


def balance_keyboard(settings: Settings) -> InlineKeyboardMarkup | None:
    """➕ Top up when a payment method is configured."""
    return topup_button_keyboard() if settings.payment_methods else None


async def balance_command(
    message: Message, session: AsyncSession, user: User, currency: str, settings: Settings
) -> None:
    await message.answer(
        await balance_text(session, user, currency), reply_markup=balance_keyboard(settings)
    )


async def balance_button(
    query: CallbackQuery, session: AsyncSession, user: User, currency: str, settings: Settings
) -> None:
    if query.message is not None:
        await query.message.answer(
            await balance_text(session, user, currency), reply_markup=balance_keyboard(settings)
        )


def create_router() -> Router:
    router = Router(name="balance")
    router.message.register(balance_command, Command("balance"))
    router.callback_query.register(balance_button, MenuCallback.filter(F.action == "balance"))
    return router
