"""What the admin sees of orders: the order card, the review list, the action buttons."""

from __future__ import annotations

from aiogram import html
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from core import admin_actions, admin_queries, billing
from core.statuses import OrderStatus
from db.models import Order
from handlers.admin.common import amount, when
from handlers.admin.orders.callbacks import OrderAction, ReviewPage
from handlers.order_views import progress_lines
from handlers.ui import inline

REVIEW_PER_PAGE = 8


NEEDS_HUMAN = (OrderStatus.REVIEW, OrderStatus.MANUAL)


BUTTON_STATUSES = (
    OrderStatus.COMPLETED,
    OrderStatus.IN_PROGRESS,
    OrderStatus.PENDING,
    OrderStatus.CANCELED,
)


def reason_text(order: Order) -> str:
    """Why an order waits for a human, in plain words, then the raw provider text."""
    reasons = {
        "ambiguous": _("the provider's answer was lost after sending: it may have the order"),
        "interrupted": _("the bot stopped while sending it: the provider may have it"),
        "no_mapping": _("its service is not mapped to a provider"),
        "partial_without_remains": _("the provider said Partial without saying how much remains"),
    }
    if order.status == OrderStatus.MANUAL:
        text = _("manual service: fulfil it, then mark it completed")
    else:
        text = reasons.get(order.error_code or "", order.error_code or _("unknown"))
    if order.last_error:
        text += f" — {inline(order.last_error, 150)}"
    return text


def actions_keyboard(order: Order) -> InlineKeyboardMarkup | None:
    kb = InlineKeyboardBuilder()
    if order.status in NEEDS_HUMAN:
        kb.button(text=_("↻ Resend"), callback_data=OrderAction(action="resend", order_id=order.id))
    if order.charge - order.refunded > 0 and order.status != OrderStatus.SUBMITTING:
        kb.button(text=_("↩ Refund"), callback_data=OrderAction(action="refund", order_id=order.id))
    if order.status not in admin_actions.CLOSED and order.status != OrderStatus.SUBMITTING:
        kb.button(
            text=_("✎ Mark status"), callback_data=OrderAction(action="status", order_id=order.id)
        )
    kb.adjust(3)
    return kb.as_markup() if kb.buttons else None


async def order_card(session: AsyncSession, order: Order, currency: str) -> list[str]:
    service = order.service
    lines = [
        _("<b>Order #{id}</b> · {status}").format(id=order.id, status=html.quote(order.status)),
        _("Customer: {user} — /user {user}").format(user=order.user_id),
        _("Service: #{id} {name} ({mode})").format(
            id=service.id, name=inline(service.name, 60), mode=html.quote(service.mode)
        ),
        _("Link: {link}").format(link=inline(order.link, 200)),
        _("Quantity: {quantity} · start count {start} · remains {remains}").format(
            quantity=order.quantity,
            start=order.start_count if order.start_count is not None else "—",
            remains=order.remains if order.remains is not None else "—",
        ),
        *progress_lines(order),
        _("Charge: {charge} {currency} · refunded {refunded} · provider cost {cost}").format(
            charge=amount(order.charge),
            currency=currency,
            refunded=amount(order.refunded),
            cost=amount(order.cost),
        ),
    ]
    provider = order.provider.name if order.provider else "—"
    lines.append(
        _(
            "Provider: {provider} · service {ps} · provider order {po} · provider status {raw}"
        ).format(
            provider=inline(provider, 64),
            ps=inline(order.provider_service_id or "—", 30),
            po=inline(order.provider_order_id or "—", 60),
            raw=inline(order.provider_status or "—", 40),
        )
    )
    lines.append(
        _("Attempts: {attempts} · next attempt {next}").format(
            attempts=order.attempts, next=when(order.next_attempt_at)
        )
    )
    if order.last_error or order.error_code:
        lines.append(
            _("Last error: {error} (code {code})").format(
                error=inline(order.last_error or "—", 300), code=html.quote(order.error_code or "—")
            )
        )
    if order.status in NEEDS_HUMAN:
        lines.append(_("Needs you because: {reason}").format(reason=reason_text(order)))
    lines.append(
        _("Created {created} · status changed {changed}").format(
            created=when(order.created_at), changed=when(order.status_changed_at)
        )
    )
    lines += ["", _("<b>Status history</b>")]
    for change in order.history:
        by = " " + _("by admin {id}").format(id=change.admin_id) if change.admin_id else ""
        note = f" · {inline(change.note, 100)}" if change.note else ""
        lines.append(
            f"{when(change.created_at)} {html.quote(change.old_status or '∅')} → "
            f"{html.quote(change.new_status)}{by}{note}"
        )
    refunds = await billing.order_refunds(session, order.id)
    if refunds:
        lines += ["", _("<b>Refunds</b>")]
        for entry in refunds:
            by = " " + _("by admin {id}").format(id=entry.admin_id) if entry.admin_id else ""
            lines.append(
                f"{when(entry.created_at)} +{amount(entry.amount)} {currency}{by} "
                f"({html.quote(billing.refund_reason(entry))})"
            )
    return lines


async def review_page(session: AsyncSession, page: int) -> tuple[str, InlineKeyboardMarkup | None]:
    orders, total = await admin_queries.orders_in(
        session, NEEDS_HUMAN, page=page, per_page=REVIEW_PER_PAGE
    )
    if not total:
        return _("✅ Nothing to review: no orders in review or manual."), None
    pages = (total + REVIEW_PER_PAGE - 1) // REVIEW_PER_PAGE
    page = min(page, pages - 1)
    lines = [
        _("<b>Orders waiting for you</b>: {total} · page {page}/{pages}").format(
            total=total, page=page + 1, pages=pages
        )
    ]
    kb = InlineKeyboardBuilder()
    sizes = []
    for order in orders:
        lines += [
            "",
            f"<b>#{order.id}</b> · {html.quote(order.status)} · {inline(order.service.name, 40)} · "
            f"{amount(order.charge)} · /user {order.user_id}",
            "   " + reason_text(order),
        ]
        kb.button(
            text=f"#{order.id} ↻", callback_data=OrderAction(action="resend", order_id=order.id)
        )
        kb.button(
            text=f"#{order.id} ↩", callback_data=OrderAction(action="refund", order_id=order.id)
        )
        kb.button(
            text=f"#{order.id} ✎", callback_data=OrderAction(action="status", order_id=order.id)
        )
        sizes.append(3)
    lines += ["", _("↻ resend · ↩ refund · ✎ mark status · details: /order ID")]
    nav = 0
    if page > 0:
        kb.button(text="◀", callback_data=ReviewPage(page=page - 1))
        nav += 1
    if page + 1 < pages:
        kb.button(text="▶", callback_data=ReviewPage(page=page + 1))
        nav += 1
    kb.adjust(*sizes, *([nav] if nav else []))
    return "\n".join(lines), kb.as_markup()


def resend_warning(order_id: int, reason: str) -> tuple[str, InlineKeyboardMarkup]:
    kb = InlineKeyboardBuilder()
    kb.button(
        text=_("⚠️ Yes, send #{id} again").format(id=order_id),
        callback_data=OrderAction(action="resend_ok", order_id=order_id),
    )
    kb.button(text=_("Show the order"), callback_data=OrderAction(action="card", order_id=order_id))
    kb.adjust(1)
    text = _(
        "⚠️ The provider may already have #{id} ({reason}). Check its order list on the provider's "
        "site first: sending again may order it twice. If it is there, use "
        "<code>/setstatus {id} pending PROVIDER_ORDER_ID</code> instead."
    ).format(id=order_id, reason=inline(reason, 150))
    return text, kb.as_markup()


def status_picker(order: Order) -> tuple[str, InlineKeyboardMarkup]:
    kb = InlineKeyboardBuilder()
    for status in BUTTON_STATUSES:
        if status != order.status:
            kb.button(
                text=status_label(status),
                callback_data=OrderAction(action="set", order_id=order.id, value=status),
            )
    kb.adjust(2)
    text = _(
        "Mark #{id} ({status}) as… Canceled refunds what is left of the charge. "
        "Partial: <code>/setstatus {id} partial REMAINS</code>."
    ).format(id=order.id, status=html.quote(order.status))
    return text, kb.as_markup()


def status_label(status: str) -> str:
    labels = {
        OrderStatus.COMPLETED: _("✅ Completed"),
        OrderStatus.IN_PROGRESS: _("▶ In progress"),
        OrderStatus.PENDING: _("⏳ Pending"),
        OrderStatus.CANCELED: _("✖ Canceled + refund"),
    }
    return labels.get(status, status)
