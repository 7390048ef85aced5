"""The words of top-ups: screens, refusals, receipts (rendered by the outbox) and alerts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiogram import html
from aiogram.utils.i18n import gettext as _

from core.money import format_money
from core.payments import CheckoutRefusal
from handlers.ui import payload_money


def method_name(method: str) -> str:
    names = {"stars": _("⭐ Telegram Stars"), "cryptopay": _("💎 Crypto (@CryptoBot)")}
    return names.get(method, html.quote(method))


def status_word(status: str) -> str:
    words = {
        "pending": _("waiting"),
        "paid": _("paid"),
        "expired": _("expired"),
        "failed": _("not created"),
        "refunding": _("refunding"),
        "refunded": _("refunded"),
        "unmatched": _("unmatched"),
    }
    return words.get(status, html.quote(status))


def methods_text(currency: str, low: Decimal, high: Decimal) -> str:
    return _("<b>Top up your balance</b>\nFrom {low} to {high}. How would you like to pay?").format(
        low=format_money(low, currency), high=format_money(high, currency)
    )


def no_methods_text() -> str:
    return _("Top-ups are not available right now. Please contact support.")


def amounts_text(method: str, currency: str, low: Decimal, high: Decimal) -> str:
    return "\n".join(
        [
            method_name(method),
            _("Choose an amount or enter your own (from {low} to {high}).").format(
                low=format_money(low, currency), high=format_money(high, currency)
            ),
        ]
    )


def other_amount_prompt(currency: str, low: Decimal, high: Decimal) -> str:
    return _("Send the amount in {currency}, from {low} to {high} (or /cancel).").format(
        currency=currency, low=format_money(low), high=format_money(high)
    )


def bad_amount_text(currency: str, low: Decimal, high: Decimal) -> str:
    return _(
        "That is not an amount from {low} to {high}. Send a number such as {example} (or /cancel)."
    ).format(
        low=format_money(low, currency),
        high=format_money(high, currency),
        example=format_money(low),
    )


def too_many_stars_text(limit: int) -> str:
    return _(
        "Telegram takes at most {limit} ⭐ in one payment: please choose a smaller amount."
    ).format(limit=limit)


def stars_invoice_title(amount: Decimal, currency: str) -> str:
    return _("Balance top-up: {amount}").format(amount=format_money(amount, currency))


def stars_invoice_description(amount: Decimal, currency: str, stars: int, minutes: int) -> str:
    return _(
        "You pay {stars} ⭐ and get {amount} on your balance. The invoice is valid for "
        "{minutes} min."
    ).format(stars=stars, amount=format_money(amount, currency), minutes=minutes)


def crypto_creating_text(amount: Decimal, currency: str) -> str:
    return _("⏳ Creating an invoice for {amount}…").format(amount=format_money(amount, currency))


def crypto_invoice_text(amount: Decimal, currency: str, assets: str, minutes: int) -> str:
    return _(
        "<b>Invoice for {amount}</b>\n"
        "You pay {amount} in {assets} through @CryptoBot and get {amount} on your balance.\n"
        "The invoice is valid for {minutes} min. The balance is credited automatically "
        "once the payment arrives."
    ).format(amount=format_money(amount, currency), assets=html.quote(assets), minutes=minutes)


def crypto_description(amount: Decimal, currency: str) -> str:
    return _("Balance top-up: {amount}").format(amount=format_money(amount, currency))


def crypto_unavailable_text() -> str:
    return _(
        "Crypto payments are not answering right now. Nothing was charged; please try again "
        "in a few minutes."
    )


def pay_button(amount: Decimal, currency: str) -> str:
    return _("💳 Pay {amount}").format(amount=format_money(amount, currency))


def checkout_refusal_text(reason: CheckoutRefusal) -> str:
    texts = {
        CheckoutRefusal.UNKNOWN: _("This invoice is not valid. Please start a new top-up."),
        CheckoutRefusal.OTHER_USER: _("This invoice was issued to another customer."),
        CheckoutRefusal.CHANGED: _("The amount differs from the invoice. Start a new top-up."),
        CheckoutRefusal.EXPIRED: _("This invoice has expired. Please start a new top-up."),
        CheckoutRefusal.PAID: _("This invoice is already paid."),
        CheckoutRefusal.CLOSED: _("Top-ups with this method are not available right now."),
    }
    return texts[reason]


# --- outbox renderers (payloads written by core.payments) -------------------------------


def payment_received_text(payload: dict[str, Any], currency: str) -> str:
    currency = str(payload.get("currency") or currency)
    return "\n".join(
        [
            _("✅ Payment received: {amount} added to your balance.").format(
                amount=payload_money(payload.get("amount"), currency)
            ),
            _("Method: {method}").format(method=method_name(str(payload.get("method")))),
            _("Balance: {amount}").format(amount=payload_money(payload.get("balance"), currency)),
        ]
    )


def payment_expired_text(payload: dict[str, Any], currency: str) -> str:
    currency = str(payload.get("currency") or currency)
    return _(
        "⌛ Your invoice for {amount} ({method}) has expired unpaid. Nothing was charged; "
        "start a new top-up from 💰 Balance whenever you like."
    ).format(
        amount=payload_money(payload.get("amount"), currency),
        method=method_name(str(payload.get("method"))),
    )


def payment_unmatched_alert(payload: dict[str, Any]) -> str:
    return _(
        "⚠️ A payment matches no invoice and was not credited: {method} {external_id}, "
        "user {user_id}, {price} {price_currency} ({reason}). See /payments; Stars can be "
        "returned with /refundpayment."
    ).format(
        method=html.quote(str(payload.get("method", ""))),
        external_id=html.quote(str(payload.get("external_id", ""))),
        user_id=html.quote(str(payload.get("user_id") or "?")),
        price=html.quote(str(payload.get("price", ""))),
        price_currency=html.quote(str(payload.get("price_currency", ""))),
        reason=html.quote(str(payload.get("reason", ""))),
    )


def method_closed_text() -> str:
    return checkout_refusal_text(CheckoutRefusal.CLOSED)


def unmatched_payment_text() -> str:
    return _(
        "We received your payment but could not match it to an invoice. An admin has been "
        "told and will sort it out; nothing is lost."
    )


def payment_support_text(lines: list[str]) -> str:
    head = [
        _("<b>Questions about a payment?</b>"),
        _(
            "Send /paysupport and your question in one message, e.g. "
            "<code>/paysupport paid but the balance did not change</code>. The admins get it "
            "with your recent payments."
        ),
        "",
    ]
    return "\n".join(head + (lines or [_("You have no payments yet.")]))


def customer_payment_line(
    created: str, method: str, amount: Any, currency: str, status: str, reference: str | None
) -> str:
    money = payload_money(amount, currency)
    line = f"{created} · {method_name(method)} · {money} · {status_word(status)}"
    return line + (f"\n    <code>{html.quote(reference)}</code>" if reference else "")


def payment_support_sent_text() -> str:
    return _("✅ Sent to the admins together with your recent payments.")


def payment_support_alert(payload: dict[str, Any]) -> str:
    return _("💬 Payment question from user {user_id} {name}: {question}\n{payments}").format(
        user_id=html.quote(str(payload.get("user_id", ""))),
        name=html.quote(str(payload.get("name", ""))),
        question=html.quote(str(payload.get("question", ""))),
        payments=html.quote(str(payload.get("payments", ""))),
    )
