"""Words and small helpers the customer's order screens share (new order, my orders, mass).

Pure functions of their arguments (plus the current locale), so keyboards and texts can be
tested without a dispatcher.
"""

from __future__ import annotations

from aiogram import html
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.links import PLATFORM_NAMES, example_host
from core.money import format_money
from core.pricing import input_kind
from core.statuses import OrderStatus
from db.models import Order, Service
from handlers.menu import MenuCallback

STATUS_EMOJI = {
    OrderStatus.QUEUED: "🕓",
    OrderStatus.SUBMITTING: "🕓",
    OrderStatus.PENDING: "⏳",
    OrderStatus.PROCESSING: "⚙️",
    OrderStatus.IN_PROGRESS: "🔄",
    OrderStatus.COMPLETED: "✅",
    OrderStatus.PARTIAL: "🌓",
    OrderStatus.CANCELED: "✖️",
    OrderStatus.FAILED: "❌",
    OrderStatus.REVIEW: "🔎",
    OrderStatus.MANUAL: "👤",
}


def status_label(status: str | None) -> str:
    """How customers (and their notifications) read a panel status; None: a new order."""
    if status is None:
        return _("New")
    labels = {
        OrderStatus.QUEUED: _("Queued"),
        OrderStatus.SUBMITTING: _("Queued"),
        OrderStatus.PENDING: _("Pending"),
        OrderStatus.PROCESSING: _("Processing"),
        OrderStatus.IN_PROGRESS: _("In progress"),
        OrderStatus.COMPLETED: _("Completed"),
        OrderStatus.PARTIAL: _("Partial"),
        OrderStatus.CANCELED: _("Cancelled"),
        OrderStatus.FAILED: _("Failed"),
        OrderStatus.REVIEW: _("Awaiting review"),
        OrderStatus.MANUAL: _("Manual processing"),
    }
    return labels.get(status, status)


def status_emoji(status: str) -> str:
    return STATUS_EMOJI.get(status, "•")  # type: ignore[call-overload]


def failure_reason(error_code: str | None) -> str:
    """Why the provider refused an order, in words a customer can act on."""
    reasons = {
        "invalid_link": _("The provider rejected the link. Check that it is correct and public."),
        "quantity_below_min": _("The provider did not accept this quantity (below its minimum)."),
        "quantity_above_max": _("The provider did not accept this quantity (above its maximum)."),
        "invalid_service": _("This service is temporarily unavailable."),
        "duplicate_active_order": _(
            "There is already an active order for this link; wait until it is finished."
        ),
    }
    return reasons.get(error_code or "", _("The provider refused the order."))


def price_text(service: Service, currency: str) -> str:
    price = format_money(service.price)
    if service.rate_basis == "flat" or input_kind(service.type) == "package":
        return _("{price} {currency} per package").format(price=price, currency=currency)
    return _("{price} {currency} per 1000").format(price=price, currency=currency)


def expected_link_text(platform: str | None, username_ok: bool) -> str:
    """What the link step expects, e.g. "a link to Instagram (instagram.com/…)"."""
    host = example_host(platform)
    name = PLATFORM_NAMES.get(platform or "", "")
    if host and username_ok:
        return _("a link to {platform} ({host}/…) or an @username").format(platform=name, host=host)
    if host:
        return _("a link to {platform} ({host}/…)").format(platform=name, host=host)
    return _("a link (https://…)")


def link_problem_text(problem: str | None, platform: str | None, username_ok: bool) -> str:
    expected = expected_link_text(platform, username_ok)
    if problem == "wrong_platform":
        return _("That link is for another site. This service needs {expected}.").format(
            expected=expected
        )
    if problem == "too_long":
        return _("That link is too long. Send {expected}.").format(expected=expected)
    return _("That does not look like a link. Send {expected}.").format(expected=expected)


def quantity_rule_text(minimum: int, maximum: int, step: int) -> str:
    text = _("from {min} to {max}").format(min=minimum, max=maximum)
    if step > 1:
        text += _(", in steps of {step}").format(step=step)
    return text


def quantity_problem_text(code: str | None, minimum: int, maximum: int, step: int) -> str:
    if code == "below_min":
        return _("The minimum for this service is {min}.").format(min=minimum)
    if code == "above_max":
        return _("The maximum for this service is {max}.").format(max=maximum)
    if code == "step":
        return _("The quantity must be a multiple of {step}.").format(step=step)
    return _("Send the quantity as a whole number, {rule}.").format(
        rule=quantity_rule_text(minimum, maximum, step)
    )


def placed_text(order: Order, currency: str) -> str:
    """The answer to a confirmed order: its number and what happens next, in plain words."""
    service = html.quote(order.service.name)
    status = order.status
    head = {
        OrderStatus.PENDING: _("✅ Order #{id} placed: {service}.\nStatus: Pending."),
        OrderStatus.QUEUED: _(
            "✅ Order #{id} placed: {service}.\nStatus: Queued, it will be sent shortly."
        ),
        OrderStatus.SUBMITTING: _(
            "✅ Order #{id} placed: {service}.\nStatus: Queued, it will be sent shortly."
        ),
        OrderStatus.MANUAL: _(
            "✅ Order #{id} accepted: {service}.\nIt will be processed manually."
        ),
        OrderStatus.REVIEW: _(
            "🔎 Order #{id} ({service}) is awaiting review.\n"
            "The provider did not answer clearly, so we check it by hand before anything else "
            "happens. You will get a message."
        ),
        OrderStatus.FAILED: _("❌ Order #{id} ({service}) failed: {reason}"),
    }.get(status)  # type: ignore[call-overload]
    if head is None:
        head = _("Order #{id} ({service}).\nStatus: {status}.")
    text = head.format(
        id=order.id,
        service=service,
        status=status_label(status),
        reason=failure_reason(order.error_code),
    )
    if status == OrderStatus.FAILED and order.refunded > 0:
        text += "\n" + _("{amount} {currency} was returned to your balance.").format(
            amount=format_money(order.refunded), currency=currency
        )
    elif status not in (OrderStatus.FAILED, OrderStatus.REVIEW):
        text += "\n" + _("You will get a message on every status change.")
    return text


def after_order_keyboard() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("📦 My orders"), callback_data=MenuCallback(action="orders"))
    kb.button(text=_("🛒 New order"), callback_data=MenuCallback(action="new_order"))
    kb.adjust(2)
    return kb.as_markup()
