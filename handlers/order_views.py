"""Words every customer order screen shares (new order, my orders, mass order, status
notifications): status labels, failure reasons, the keyboard after an order.

Pure functions of their arguments (plus the current locale).
"""

from __future__ import annotations

from decimal import Decimal

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from core.order_fields import dripfeed_of, subscription_of
from core.statuses import OrderStatus
from db.models import Order
from handlers.menu import MenuCallback
from handlers.ui import button, keyboard, money_text

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


def after_order_keyboard() -> InlineKeyboardMarkup:
    return keyboard(
        [
            button(_("📦 My orders"), MenuCallback(action="orders")),
            button(_("🛒 New order"), MenuCallback(action="new_order")),
        ]
    )


def not_enough_text(missing: Decimal, currency: str) -> str:
    """The alert when the balance does not cover a confirmed order (or mass order)."""
    return _("Not enough balance: {missing} missing.").format(missing=money_text(missing, currency))


def progress_lines(order: Order) -> list[str]:
    """A drip-feed's runs done, a subscription's posts served (as the provider reports)."""
    drip, sub = dripfeed_of(order.extra), subscription_of(order.extra)
    if drip is not None:
        return [
            _("Drip-feed: {done} of {runs} runs done, every {interval} min").format(
                done=order.runs_done or 0, runs=drip.runs, interval=drip.interval
            )
        ]
    if sub is not None:
        return [
            _("Subscription: {done} of {posts} posts served, {min}–{max} each").format(
                done=order.posts_done or 0, posts=sub.posts, min=sub.min, max=sub.max
            )
        ]
    return []
