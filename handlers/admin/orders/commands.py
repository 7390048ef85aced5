"""Orders: /order, /review, /resend, /refund, /setstatus and the order card's buttons."""

from __future__ import annotations

from aiogram.filters import CommandObject
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from core import admin_actions
from core.lifecycle import load_order
from core.statuses import OrderStatus
from handlers.admin.common import amount, answer_long, args_of, to_amount, to_int, usage
from handlers.admin.orders.actions import (
    do_refund,
    do_resend,
    do_set_status,
    refund_usage,
    setstatus_usage,
)
from handlers.admin.orders.callbacks import OrderAction, ReviewPage
from handlers.admin.orders.views import (
    actions_keyboard,
    order_card,
    review_page,
    status_picker,
)
from providers import ProviderRegistry


async def order_command(
    message: Message, command: CommandObject, session: AsyncSession, currency: str
) -> None:
    args = args_of(command)
    order_id = to_int(args[0]) if len(args) == 1 else None
    if order_id is None:
        await message.answer(usage("/order ORDER_ID"))
        return
    order = await load_order(session, order_id, details=True)
    if order is None:
        await message.answer(_("No order #{id}.").format(id=order_id))
        return
    await answer_long(
        message,
        await order_card(session, order, currency),
        reply_markup=actions_keyboard(order),
    )


async def review_command(message: Message, session: AsyncSession) -> None:
    text, markup = await review_page(session, 0)
    await message.answer(text, reply_markup=markup)


async def review_turn(
    query: CallbackQuery, callback_data: ReviewPage, session: AsyncSession
) -> None:
    text, markup = await review_page(session, max(callback_data.page, 0))
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=markup)


async def resend_command(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    registry: ProviderRegistry,
    admin_ids: frozenset[int],
    currency: str,
) -> None:
    args = args_of(command)
    order_id = to_int(args[0]) if len(args) == 1 else None
    if order_id is None:
        await message.answer(usage("/resend ORDER_ID"))
        return
    assert message.from_user is not None
    await do_resend(
        message, session, registry, message.from_user.id, admin_ids, order_id, currency,
        confirmed=False,
    )  # fmt: skip


async def refund_command(
    message: Message, command: CommandObject, session: AsyncSession, currency: str
) -> None:
    args = args_of(command)
    order_id = to_int(args[0]) if len(args) in (1, 2) else None
    value = to_amount(args[1]) if len(args) == 2 else None
    if order_id is None or (len(args) == 2 and (value is None or value <= 0)):
        await message.answer(refund_usage())
        return
    assert message.from_user is not None
    await do_refund(message, session, message.from_user.id, order_id, value, currency)


async def setstatus_command(
    message: Message, command: CommandObject, session: AsyncSession, currency: str
) -> None:
    args = args_of(command)
    order_id = to_int(args[0]) if len(args) in (2, 3) else None
    status = args[1].lower().replace("cancelled", "canceled") if len(args) >= 2 else ""
    if order_id is None or status not in admin_actions.SETTABLE:
        await message.answer(setstatus_usage())
        return
    remains = provider_order_id = None
    if status == OrderStatus.PARTIAL:
        remains = to_int(args[2]) if len(args) == 3 else None
        if remains is None:
            await message.answer(setstatus_usage())
            return
    elif len(args) == 3:
        if status not in (OrderStatus.PENDING, OrderStatus.PROCESSING, OrderStatus.IN_PROGRESS):
            await message.answer(setstatus_usage())
            return
        provider_order_id = args[2]
    assert message.from_user is not None
    await do_set_status(
        message, session, message.from_user.id, order_id, status, currency,
        remains=remains, provider_order_id=provider_order_id,
    )  # fmt: skip


async def order_button(
    query: CallbackQuery,
    callback_data: OrderAction,
    session: AsyncSession,
    registry: ProviderRegistry,
    admin_ids: frozenset[int],
    currency: str,
) -> None:
    message = query.message
    if not isinstance(message, Message):
        return
    admin_id, order_id = query.from_user.id, callback_data.order_id
    action = callback_data.action
    if action in ("resend", "resend_ok"):
        await do_resend(
            message, session, registry, admin_id, admin_ids, order_id, currency,
            confirmed=action == "resend_ok",
        )  # fmt: skip
        return
    if action == "refund_ok":
        await do_refund(message, session, admin_id, order_id, None, currency)
        return
    if action == "set":
        await do_set_status(message, session, admin_id, order_id, callback_data.value, currency)
        return
    order = await load_order(session, order_id, details=True)
    if order is None:
        await message.answer(_("No order #{id}.").format(id=order_id))
        return
    if action == "refund":
        left = order.charge - order.refunded
        if left <= 0:
            await message.answer(_("#{id} has nothing left to refund.").format(id=order.id))
            return
        kb = InlineKeyboardBuilder()
        kb.button(
            text=_("↩ Refund {amount} {currency}").format(amount=amount(left), currency=currency),
            callback_data=OrderAction(action="refund_ok", order_id=order.id),
        )
        await message.answer(
            _(
                "Refund {amount} {currency} of #{id} to user {user} and cancel the order? "
                "For part of it: <code>/refund {id} AMOUNT</code>."
            ).format(amount=amount(left), currency=currency, id=order.id, user=order.user_id),
            reply_markup=kb.as_markup(),
        )
    elif action == "status":
        text, markup = status_picker(order)
        await message.answer(text, reply_markup=markup)
    else:  # card
        await answer_long(
            message,
            await order_card(session, order, currency),
            reply_markup=actions_keyboard(order),
        )
