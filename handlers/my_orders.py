"""/orders and "📦 My orders": the customer's orders, one card each, refill and cancel.

Every id that arrives in a button is looked up through core.ordering.user_order, which only
finds the presser's own orders: someone else's id answers "not found" and shows nothing.
"""

from __future__ import annotations

from aiogram import Bot, F, Router, html
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from core.customer_requests import (
    RequestResult,
    can_cancel,
    can_refill,
    open_refill,
    request_cancel,
    request_refill,
)
from core.ordering import OrderError, user_order, user_orders
from core.statuses import OrderStatus
from db.models import Order, User
from handlers.menu import MenuCallback
from handlers.order_views import failure_reason, progress_lines, status_emoji, status_label
from handlers.reorder import OrderAgain
from handlers.ui import (
    PER_PAGE,
    ButtonId,
    answers_itself,
    clip,
    money_text,
    page_count,
    pager_row,
    show,
)
from providers import ProviderRegistry

HISTORY_SHOWN = 15


class OrdersPage(CallbackData, prefix="mo"):
    page: ButtonId


class OrderView(CallbackData, prefix="mov"):
    order_id: ButtonId
    page: ButtonId


class OrderAction(CallbackData, prefix="moa"):
    action: str  # refill | cancel
    order_id: ButtonId
    page: ButtonId


# --- texts and keyboards (pure) ---------------------------------------------------------


def order_button_text(order: Order) -> str:
    return f"#{order.id} · {clip(order.service.name, 30)} {status_emoji(order.status)}"


def orders_text(total: int, page: int, pages: int) -> str:
    if total == 0:
        return _("You have no orders yet.")
    return _(
        "📦 <b>My orders</b> ({total})\nPage {page} of {pages}. Tap an order to see it."
    ).format(total=total, page=page + 1, pages=pages)


def orders_keyboard(orders: list[Order], page: int, pages: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for order in orders:
        kb.button(
            text=order_button_text(order), callback_data=OrderView(order_id=order.id, page=page)
        )
    kb.adjust(1)
    kb.row(*pager_row(page, pages, lambda p: OrdersPage(page=p)))
    if not orders:
        kb.row(
            InlineKeyboardButton(
                text=_("🛒 New order"), callback_data=MenuCallback(action="new_order").pack()
            )
        )
    return kb.as_markup()


def order_card(order: Order, currency: str) -> str:
    dash = "—"
    lines = [
        _("<b>Order #{id}</b> · {service}").format(
            id=order.id, service=html.quote(order.service.name)
        ),
        _("Status: {emoji} {status}").format(
            emoji=status_emoji(order.status), status=status_label(order.status)
        ),
        _("Link: {link}").format(link=html.quote(clip(order.link, 300))),
        _("Quantity: {quantity}").format(quantity=order.quantity),
        _("Charge: {amount}").format(amount=money_text(order.charge, currency)),
    ]
    if order.refunded > 0:
        lines.append(_("Refunded: {amount}").format(amount=money_text(order.refunded, currency)))
    lines += progress_lines(order)
    lines += [
        _("Start count: {value}").format(
            value=order.start_count if order.start_count is not None else dash
        ),
        _("Remains: {value}").format(value=order.remains if order.remains is not None else dash),
        _("Placed: {time} UTC").format(time=f"{order.created_at:%Y-%m-%d %H:%M}"),
    ]
    if order.status == OrderStatus.FAILED:
        lines.append(_("Reason: {reason}").format(reason=failure_reason(order.error_code)))
    elif order.status == OrderStatus.REVIEW:
        lines.append(_("We are checking this order by hand; you will get a message."))
    history = order.history[-HISTORY_SHOWN:]
    if history:
        lines += ["", _("<b>History</b>")]
        lines += [
            f"{change.created_at:%Y-%m-%d %H:%M} · {status_label(change.new_status)}"
            for change in history
        ]
    return "\n".join(lines)


def order_keyboard(order: Order, page: int, *, refill_open: bool = False) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    if can_refill(order, refill_open=refill_open):
        kb.button(
            text=_("🔁 Refill"),
            callback_data=OrderAction(action="refill", order_id=order.id, page=page),
        )
    if can_cancel(order):
        kb.button(
            text=_("✖ Cancel order"),
            callback_data=OrderAction(action="cancel", order_id=order.id, page=page),
        )
    kb.button(text=_("🔁 Order again"), callback_data=OrderAgain(order_id=order.id))
    kb.button(text=_("🔄 Refresh"), callback_data=OrderView(order_id=order.id, page=page))
    kb.button(text=_("◀ My orders"), callback_data=OrdersPage(page=page))
    kb.adjust(2)
    return kb.as_markup()


def request_result_text(order_id: int, result: RequestResult, currency: str, order: Order) -> str:
    if result.code == "refill_requested":
        return _("Refill requested for order #{id}.").format(id=order_id)
    if result.code == "cancel_requested":
        return _(
            "Cancellation requested for order #{id}. You will get a message when the provider "
            "confirms it."
        ).format(id=order_id)
    if result.code == "canceled":
        return _("Order #{id} is cancelled; {amount} was returned to your balance.").format(
            id=order_id, amount=money_text(order.refunded, currency)
        )
    if result.code == "refill_not_available":
        return _("A refill is not available for this order.")
    if result.code == "refill_pending":
        return _(
            "A refill of order #{id} is already in progress. You will get a message when it "
            "is finished."
        ).format(id=order_id)
    if result.code == "cancel_not_available":
        return _("This order can no longer be cancelled.")
    if result.code == "provider_unavailable":
        return _("We could not get an answer from the provider. Please try again in a few minutes.")
    return _("The provider refused the request. Please try again later.")


def not_found_text() -> str:
    return _("Order not found.")


# --- handlers ---------------------------------------------------------------------------


async def orders_page(
    session: AsyncSession, user_id: int, page: int
) -> tuple[str, InlineKeyboardMarkup]:
    orders, total = await user_orders(session, user_id, page=max(page, 0), per_page=PER_PAGE)
    pages = page_count(total)
    if page >= pages:  # the list shrank (or a forged page): show the last one
        page = pages - 1
        orders, total = await user_orders(session, user_id, page=page, per_page=PER_PAGE)
    page = max(page, 0)
    return orders_text(total, page, pages), orders_keyboard(orders, page, pages)


async def show_card(
    query: CallbackQuery, bot: Bot, session: AsyncSession, order: Order, page: int, currency: str
) -> None:
    refill_open = can_refill(order) and await open_refill(session, order.id)
    await show(
        query,
        bot,
        order_card(order, currency),
        order_keyboard(order, page, refill_open=refill_open),
    )


async def orders_command(message: Message, session: AsyncSession, user: User) -> None:
    text, markup = await orders_page(session, user.id, 0)
    await message.answer(text, reply_markup=markup)


async def orders_button(query: CallbackQuery, session: AsyncSession, user: User) -> None:
    text, markup = await orders_page(session, user.id, 0)
    if isinstance(query.message, Message):
        await query.message.answer(text, reply_markup=markup)


async def orders_paged(
    query: CallbackQuery, callback_data: OrdersPage, session: AsyncSession, user: User, bot: Bot
) -> None:
    text, markup = await orders_page(session, user.id, callback_data.page)
    await show(query, bot, text, markup)


@answers_itself
async def order_view(
    query: CallbackQuery,
    callback_data: OrderView,
    session: AsyncSession,
    user: User,
    bot: Bot,
    currency: str,
) -> None:
    order = await user_order(session, user.id, callback_data.order_id)
    if order is None:
        await query.answer(not_found_text(), show_alert=True)
        return
    await query.answer()
    await show_card(query, bot, session, order, callback_data.page, currency)


@answers_itself
async def order_action(
    query: CallbackQuery,
    callback_data: OrderAction,
    session: AsyncSession,
    user: User,
    bot: Bot,
    registry: ProviderRegistry,
    currency: str,
) -> None:
    order_id = callback_data.order_id
    request = request_refill if callback_data.action == "refill" else request_cancel
    try:
        result = await request(session, registry, user.id, order_id)
    except OrderError:
        await query.answer(not_found_text(), show_alert=True)
        return
    order = await user_order(session, user.id, order_id)
    assert order is not None
    await query.answer(request_result_text(order_id, result, currency, order), show_alert=True)
    await show_card(query, bot, session, order, callback_data.page, currency)


def create_router() -> Router:
    router = Router(name="my_orders")
    router.message.register(orders_command, Command("orders"))
    router.callback_query.register(orders_button, MenuCallback.filter(F.action == "orders"))
    router.callback_query.register(orders_paged, OrdersPage.filter())
    router.callback_query.register(order_view, OrderView.filter())
    router.callback_query.register(
        order_action, OrderAction.filter(F.action.in_({"refill", "cancel"}))
    )
    return router
