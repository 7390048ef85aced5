"""Top-ups for admins: /payments [USER_ID] and /refundpayment CHARGE_ID (Telegram Stars)."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from core.payment_admin import (
    PaymentTotals,
    RefundRefused,
    begin_refund,
    cancel_refund,
    finish_refund,
    recent_payments,
)
from db.models import Payment
from handlers.admin.common import amount, answer_long, args_of, to_int, usage, when
from handlers.payments.texts import method_name, status_word
from handlers.ui import inline

log = logging.getLogger(__name__)

LIST_LIMIT = 30


def payment_line(payment: Payment) -> str:
    paid = f"{amount(payment.price)} {inline(payment.price_currency, 8)}"
    line = _(
        "#{id} {when} · user {user} · {method} · {amount} {currency} (paid {paid}) · {status}"
    ).format(
        id=payment.id,
        when=when(payment.created_at),
        user=payment.user_id or "?",
        method=method_name(payment.method),
        amount=amount(payment.amount),
        currency=inline(payment.currency, 8),
        paid=paid,
        status=status_word(payment.status),
    )
    if payment.external_id:
        line += f"\n    <code>{inline(payment.external_id, 128)}</code>"
    return line


def refused_text(error: RefundRefused, currency: str) -> str:
    d = error.details
    texts = {
        "not_found": _("No payment with this charge id. /payments lists them."),
        "not_stars": _("Only Telegram Stars payments can be refunded by the bot."),
        "not_paid": _("This payment is not paid ({status}): nothing to refund.").format(
            status=status_word(str(d.get("status")))
        ),
        "refunded": _("This payment was already refunded."),
        "in_progress": _("A refund of this payment is already in progress."),
        "spent": _(
            "Refused: user {user} has {balance} {currency} left of the {amount} {currency} "
            "this payment credited (already spent). Nothing was refunded."
        ).format(
            user=d.get("user_id"),
            balance=amount(d.get("balance")),
            amount=amount(d.get("amount")),
            currency=currency,
        ),
    }
    return texts.get(error.code, inline(error.code))


def totals_lines(totals: PaymentTotals, currency: str) -> list[str]:
    """For /stats: money received by top-ups in one period."""
    parts = [
        _("{method}: {count} · {amount} {currency}").format(
            method=method_name(method), count=count, amount=amount(total), currency=currency
        )
        for method, (count, total) in sorted(totals.by_method.items())
    ]
    line = _("Top-ups: {count} · {amount} {currency}").format(
        count=totals.count, amount=amount(totals.total), currency=currency
    )
    if parts:
        line += " (" + ", ".join(parts) + ")"
    lines = [line]
    if totals.refunded:
        lines.append(
            _("Payment refunds: {amount} {currency}").format(
                amount=amount(totals.refunded), currency=currency
            )
        )
    if totals.unmatched:
        lines.append(_("⚠️ Unmatched payments: {count}").format(count=totals.unmatched))
    return lines


async def payments_command(message: Message, command: CommandObject, session: AsyncSession) -> None:
    args = args_of(command)
    user_id = to_int(args[0]) if args else None
    if args and user_id is None:
        await message.answer(usage("/payments [USER_ID]"))
        return
    payments = await recent_payments(session, user_id, limit=LIST_LIMIT)
    if not payments:
        await message.answer(_("No payments yet."))
        return
    title = (
        _("<b>Payments of user {id}</b>").format(id=user_id)
        if user_id is not None
        else _("<b>Recent payments</b>")
    )
    await answer_long(message, [title, *(payment_line(p) for p in payments)])


async def refund_payment_command(
    message: Message, command: CommandObject, session: AsyncSession, bot: Bot, currency: str
) -> None:
    args = args_of(command)
    if len(args) != 1 or len(args[0]) > 128:
        await message.answer(usage("/refundpayment CHARGE_ID"))
        return
    assert message.from_user is not None
    try:
        payment = await begin_refund(session, args[0])
    except RefundRefused as error:
        await message.answer(refused_text(error, currency))
        return
    assert payment.user_id is not None and payment.external_id is not None
    try:
        await bot.refund_star_payment(payment.user_id, payment.external_id)
    except TelegramBadRequest as exc:
        if "CHARGE_ALREADY_REFUNDED" not in exc.message:
            await cancel_refund(session, payment.id)
            await message.answer(
                _("Telegram refused the refund ({reason}); nothing was debited.").format(
                    reason=inline(exc.message, 200)
                )
            )
            return
        # Refunded earlier (e.g. our debit was cut off by a restart): finish the debit now.
    except TelegramAPIError as exc:
        await cancel_refund(session, payment.id)
        log.warning("refundStarPayment for payment %s failed: %s", payment.id, exc)
        await message.answer(
            _("Telegram did not confirm the refund; nothing was debited. Try again later.")
        )
        return
    done = await finish_refund(session, payment.id, message.from_user.id)
    text = _("✅ Refunded {price} ⭐ to user {user}; debited {amount} {currency}.").format(
        price=amount(payment.price),
        user=payment.user_id,
        amount=amount(done.debited),
        currency=currency,
    )
    if done.shortfall:
        text += "\n" + _(
            "⚠️ {amount} {currency} had been spent meanwhile and could not be debited."
        ).format(amount=amount(done.shortfall), currency=currency)
    await message.answer(text)


def create_router() -> Router:
    router = Router(name="admin.payments")
    router.message.register(payments_command, Command("payments"))
    router.message.register(refund_payment_command, Command("refundpayment"))
    return router
