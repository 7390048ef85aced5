"""🔁 Order again: the same service, link and quantity (or list), straight to the
confirmation with the price quoted again; the rest is the order flow's own confirm."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.types import User as TgUser
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from core.catalog_cache import CatalogCache
from core.ordering import user_order
from core.pricing import check_quantity, input_kind, lines_field
from handlers.order.callbacks import OrderFlow
from handlers.order.steps import new_nonce, show_confirmation
from handlers.ui import ButtonId, answers_itself


class OrderAgain(CallbackData, prefix="oag"):
    order_id: ButtonId


def cannot_repeat_text() -> str:
    return _("This service is no longer available. Choose another one with /neworder.")


def quantity_changed_text(minimum: int, maximum: int) -> str:
    return _("This service now takes {min} to {max}: start a new order with /neworder.").format(
        min=minimum, max=maximum
    )


@answers_itself
async def order_again(
    query: CallbackQuery,
    callback_data: OrderAgain,
    session: AsyncSession,
    catalog: CatalogCache,
    event_from_user: TgUser,
    state: FSMContext,
    currency: str,
) -> None:
    order = await user_order(session, event_from_user.id, callback_data.order_id)  # only their own
    if order is None or not isinstance(query.message, Message):
        await query.answer(_("Order not found."), show_alert=True)
        return
    service = await catalog.service(session, order.service_id)
    if service is None:
        await query.answer(cannot_repeat_text(), show_alert=True)
        return
    field = lines_field(service.type)
    lines = list((order.extra or {}).get(field) or []) if field else []
    quantity = 1 if input_kind(service.type) == "package" else len(lines) or order.quantity
    if check_quantity(quantity, service.min, service.max, service.step) is not None:
        await query.answer(quantity_changed_text(service.min, service.max), show_alert=True)
        return
    await query.answer()
    data = {"flow": new_nonce(), "service_id": service.id, "link": order.link, "quantity": quantity}
    await state.set_state(OrderFlow.confirm)
    await state.set_data(data | ({"lines": lines} if lines else {}))
    await show_confirmation(query.message, session, event_from_user.id, state, service, currency)


def create_router() -> Router:
    router = Router(name="reorder")
    router.callback_query.register(order_again, OrderAgain.filter())
    return router
