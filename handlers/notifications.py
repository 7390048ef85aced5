"""The words of the notifications the outbox sends (core decides what to tell, this how).

Rendered at send time in the recipient's language. Payloads (written by core):
- order_status: order_id, service, old, new, refund (str amount or None), error_code, remains
- balance_change: amount (signed str), balance (after, str), note, currency (optional)
- refill_status: order_id, service, status (completed | rejected | failed)
- admin_alert: alert (a core.alerts.AlertKind) plus that kind's payload, built by core.alerts
- order_placed: order_id, service, status, error_code, refunded, message_id (the customer's
  confirmation message, edited to show the provider's answer)
- mass_placed: a mass confirmation message as core.mass_order.page_view gives it (count, last,
  lines), plus message_id (the message edited to show the providers' answers so far)
Every provider or user string goes through html.quote (HTML parse mode).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from aiogram import html
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from core import notify, referrals, support
from core.alerts import AlertKind
from core.money import format_money
from core.notify import Render, UnknownNotification
from core.payments import PAYMENT_EXPIRED, PAYMENT_RECEIVED
from core.refill_sync import REFILL_STATUS
from handlers.mass_order.texts import placed_text as mass_placed_text
from handlers.order.texts import placed_words
from handlers.order_views import after_order_keyboard, failure_reason, status_label
from handlers.payments.texts import (
    payment_expired_text,
    payment_received_text,
    payment_support_alert,
    payment_unmatched_alert,
)
from handlers.referrals import views as referral_views
from handlers.support import views as support_views
from handlers.ui import clip, payload_money

MAX_LENGTH = 4096


def render(
    i18n: I18n, locale: str | None, kind: str, payload: dict[str, Any], *, currency: str
) -> str:
    """The message text for one outbox row, in `locale` (the default if it has no catalog)."""
    renderer = RENDERERS.get(kind)
    if renderer is None:
        raise UnknownNotification(kind)
    with i18n.context(), i18n.use_locale(locale or i18n.default_locale):
        text = renderer(payload, currency)
        if len(text) > MAX_LENGTH:
            # Shorten the long strings (provider names, notes) before they are escaped and
            # put between tags: cutting the HTML itself could leave a tag open, which
            # Telegram refuses on every retry.
            text = renderer({k: _shorten(v) for k, v in payload.items()}, currency)
    return text if len(text) <= MAX_LENGTH else html.quote(clip(text, MAX_LENGTH // 2))


def renderer(i18n: I18n, *, currency: str) -> Render:
    """render() bound to the app's translations and currency: what the outbox sender gets."""

    def render_row(locale: str | None, kind: str, payload: dict[str, Any]) -> str:
        return render(i18n, locale, kind, payload, currency=currency)

    return render_row


def keyboards(i18n: I18n) -> Callable[[str | None, str, dict[str, Any]], Any]:
    """render_keyboard() bound to the app's translations: the outbox sender's buttons."""

    def keyboard_for(locale: str | None, kind: str, payload: dict[str, Any]) -> Any:
        return render_keyboard(i18n, locale, kind, payload)

    return keyboard_for


def render_keyboard(
    i18n: I18n, locale: str | None, kind: str, payload: dict[str, Any]
) -> InlineKeyboardMarkup | None:
    """The buttons sent with an outbox row of this kind, if it has any."""
    keyboard = KEYBOARDS.get(kind)
    if keyboard is None:
        return None
    with i18n.context(), i18n.use_locale(locale or i18n.default_locale):
        return keyboard(payload)


def _shorten(value: Any) -> Any:
    """A long string of the payload cut (other values as they are)."""
    return clip(value, 300) if isinstance(value, str) else value


def order_status_text(payload: dict[str, Any], currency: str) -> str:
    new = payload.get("new")
    lines = [
        _("#{order_id} · {service} — {old} → {new}").format(
            order_id=payload.get("order_id"),
            service=html.quote(str(payload.get("service") or "")),
            old=status_label(payload.get("old")),
            new=status_label(new),
        )
    ]
    if new == "partial" and payload.get("remains") is not None:
        lines.append(_("Not delivered: {remains}").format(remains=payload["remains"]))
    if new == "failed":
        lines.append(_("Reason: {reason}").format(reason=failure_reason(payload.get("error_code"))))
    if new == "review":
        lines.append(_("We are checking this order and will let you know."))
    if payload.get("refund"):
        lines.append(
            _("💰 Refunded {amount} to your balance.").format(
                amount=payload_money(payload["refund"], currency)
            )
        )
    return "\n".join(lines)


def balance_change_text(payload: dict[str, Any], currency: str) -> str:
    currency = str(payload.get("currency") or currency)
    try:
        amount = Decimal(str(payload.get("amount")))
    except (InvalidOperation, ValueError):
        amount = Decimal(0)
    if amount >= 0:
        line = _("💰 Your balance was topped up by {amount}.")
    else:
        line = _("Your balance was reduced by {amount}.")
    lines = [line.format(amount=format_money(abs(amount), currency))]
    if payload.get("balance") is not None:
        lines.append(
            _("Balance: {amount}").format(amount=payload_money(payload["balance"], currency))
        )
    if payload.get("note"):
        lines.append(_("Note: {note}").format(note=html.quote(str(payload["note"]))))
    return "\n".join(lines)


def refill_status_text(payload: dict[str, Any], currency: str) -> str:
    words = {
        "completed": _("refill completed"),
        "rejected": _("refill rejected by the provider"),
        "failed": _("refill failed"),
    }
    status = str(payload.get("status") or "")
    return _("🔁 #{order_id} · {service} — {what}").format(
        order_id=payload.get("order_id"),
        service=html.quote(str(payload.get("service") or "")),
        what=words.get(status, html.quote(status)),
    )


def _q(payload: dict[str, Any], key: str) -> str:
    return html.quote(str(payload.get(key, "")))


def _stale_orders(p: dict[str, Any]) -> str:
    ids = ", ".join(f"#{i}" for i in p.get("order_ids") or [])
    more = int(p.get("count") or 0) - len(p.get("order_ids") or [])
    text = _("⏳ {count} orders have had no status change for {hours} h: {ids}").format(
        count=p.get("count"), hours=p.get("hours"), ids=ids
    )
    return text + (_(" and {more} more").format(more=more) if more > 0 else "")


ALERTS: dict[AlertKind, Callable[[dict[str, Any]], str]] = {
    AlertKind.PROVIDER_NO_FUNDS: lambda p: _(
        "⚠️ Provider <b>{provider}</b> has no funds: orders wait in the queue until it is topped up."
    ).format(provider=_q(p, "provider")),
    AlertKind.PROVIDER_KEY: lambda p: _(
        "⚠️ Provider <b>{provider}</b> refused our API key or account: {message}"
    ).format(provider=_q(p, "provider"), message=_q(p, "message")),
    AlertKind.PROVIDER_FAILING: lambda p: _(
        "⚠️ Provider <b>{provider}</b> is failing ({failures} errors in a row): {message}"
    ).format(provider=_q(p, "provider"), failures=p.get("failures"), message=_q(p, "message")),
    AlertKind.PROVIDER_LOW_BALANCE: lambda p: _(
        "⚠️ Provider <b>{provider}</b> balance is low: {balance} {currency} (threshold {threshold})."
    ).format(
        provider=_q(p, "provider"),
        balance=_q(p, "balance"),
        currency=_q(p, "currency"),
        threshold=_q(p, "threshold"),
    ),
    AlertKind.PROVIDER_FX_MISSING: lambda p: _(
        "⚠️ Provider <b>{provider}</b> bills in {theirs}, the panel sells in {ours}: its prices "
        "and costs cannot be compared with ours. Set a rate: /providerset {provider} fx RATE"
    ).format(provider=_q(p, "provider"), theirs=_q(p, "theirs"), ours=_q(p, "ours")),
    AlertKind.PROVIDER_PRICE_ABOVE: lambda p: _(
        "⚠️ Service {service_id} <b>{service}</b>: provider {provider} now charges {rate} "
        "per {per}, above our price {price}. Use /setprice to update it."
    ).format(
        service_id=p.get("service_id"),
        service=_q(p, "service"),
        provider=_q(p, "provider"),
        rate=_q(p, "rate"),
        per=_q(p, "per"),
        price=_q(p, "price"),
    ),
    AlertKind.SERVICE_UNAVAILABLE: lambda p: _(
        "⚠️ Service {service_id} <b>{service}</b>: provider {provider} no longer offers its "
        "service {provider_service_id}."
    ).format(
        service_id=p.get("service_id"),
        service=_q(p, "service"),
        provider=_q(p, "provider"),
        provider_service_id=_q(p, "provider_service_id"),
    ),
    AlertKind.ORDERS_REVIEW: lambda p: _(
        "🔎 Order #{order_id} needs review: {reason}. See /review."
    ).format(order_id=p.get("order_id"), reason=_q(p, "reason")),
    AlertKind.ORDERS_MANUAL: lambda p: _("🛠 New manual order #{order_id} · {service}.").format(
        order_id=p.get("order_id"), service=_q(p, "service")
    ),
    AlertKind.STALE_ORDERS: _stale_orders,
    AlertKind.PAYMENT_UNMATCHED: payment_unmatched_alert,
    AlertKind.PAYMENT_QUESTION: payment_support_alert,
    AlertKind.REFUND_ABOVE_STATUS: lambda p: _(
        "💸 Order #{order_id} is now {status}, which implies a refund of {implied}, but "
        "{refunded} was already refunded. Nothing was taken back: decide with /order "
        "{order_id} (a /topup with a negative amount takes money back)."
    ).format(
        order_id=p.get("order_id"),
        status=_q(p, "status"),
        implied=_q(p, "implied"),
        refunded=_q(p, "refunded"),
    ),
}


def admin_alert_text(payload: dict[str, Any], currency: str) -> str:
    kind = str(payload.get("alert") or "")
    renderer = ALERTS.get(kind)
    if renderer is not None:
        return renderer(payload)
    details = ", ".join(f"{k}={v}" for k, v in payload.items() if k != "alert")
    return _("⚠️ Alert {kind}: {details}").format(kind=html.quote(kind), details=html.quote(details))


def order_placed_text(payload: dict[str, Any], currency: str) -> str:
    return placed_words(
        int(payload.get("order_id") or 0),
        str(payload.get("service") or ""),
        str(payload.get("status") or ""),
        payload.get("error_code"),
        Decimal(str(payload.get("refunded") or "0")),
        currency,
    )


RENDERERS: dict[str, Callable[[dict[str, Any], str], str]] = {
    notify.ORDER_PLACED: order_placed_text,
    notify.MASS_PLACED: mass_placed_text,
    notify.ORDER_STATUS: order_status_text,
    notify.BALANCE_CHANGE: balance_change_text,
    notify.ADMIN_ALERT: admin_alert_text,
    REFILL_STATUS: refill_status_text,
    PAYMENT_RECEIVED: payment_received_text,
    PAYMENT_EXPIRED: payment_expired_text,
    support.TICKET: support_views.ticket_text,
    support.ANSWER: support_views.answer_text,
    support.CLOSED_NOTICE: support_views.closed_text,
    referrals.BONUS: referral_views.bonus_text,
    referrals.JOINED: referral_views.joined_text,
}

KEYBOARDS: dict[str, Callable[[dict[str, Any]], InlineKeyboardMarkup | None]] = {
    # The confirmation keeps its buttons (My orders, New order) when the answer edits it.
    notify.ORDER_PLACED: lambda payload: after_order_keyboard(),
    notify.MASS_PLACED: lambda payload: after_order_keyboard() if payload.get("last") else None,
    support.TICKET: support_views.ticket_payload_keyboard,
    support.ANSWER: support_views.answer_payload_keyboard,
}
