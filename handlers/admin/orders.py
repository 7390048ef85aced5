"""Orders: /order, /review, /resend, /refund, /setstatus and their inline actions.

Buttons carry only an order id and an action; every press re-reads the order in core, so a
button on an old message acts on the order as it is now (or says why it cannot).
"""

from __future__ import annotations

from decimal import Decimal

from aiogram import Router, html
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from core import admin_actions
from core.admin_actions import ActionError, load_order
from core.statuses import OrderStatus
from handlers.admin.common import amount, answer_long, to_amount, to_int, usage
from handlers.admin.order_views import (
    OrderAction,
    ReviewPage,
    actions_keyboard,
    order_card,
    resend_warning,
    review_page,
    status_picker,
)
from handlers.ui import inline
from providers import ProviderRegistry


def setstatus_usage() -> str:
    return usage(
        "/setstatus ORDER_ID STATUS [REMAINS | PROVIDER_ORDER_ID]",
        _("STATUS: pending, processing, in_progress, completed, partial, canceled."),
        _(
            "partial needs REMAINS (refunds charge × remains / quantity): "
            "<code>/setstatus 42 partial 250</code>"
        ),
        _("canceled refunds what is left of the charge."),
        _(
            "pending/processing/in_progress may take the provider's order id, so status sync "
            "follows it: <code>/setstatus 42 pending 123456</code>"
        ),
    )


def refund_usage() -> str:
    return usage(
        "/refund ORDER_ID [AMOUNT]",
        _("Without AMOUNT: everything not yet refunded, and the order is canceled."),
    )


def action_error_text(error: ActionError, currency: str) -> str:
    d = error.details
    order_id = d.get("order_id")
    texts = {
        "order_not_found": _("No order #{id}.").format(id=order_id),
        "in_flight": _(
            "#{id} is being sent to the provider right now; try again in a moment."
        ).format(id=order_id),
        "nothing_to_refund": _("#{id} has nothing left to refund.").format(id=order_id),
        "zero_amount": _("The amount must be more than zero."),
        "refund_too_much": _("At most {left} {currency} of #{id} can still be refunded.").format(
            left=amount(d.get("left")), currency=currency, id=order_id
        ),
        "bad_status": setstatus_usage(),
        "closed": _(
            "#{id} is {status}: its charge went back to the customer, it cannot be reopened."
        ).format(id=order_id, status=html.quote(str(d.get("status")))),
        "same_status": _("#{id} is already {status}.").format(
            id=order_id, status=html.quote(str(d.get("status")))
        ),
        "bad_remains": _("partial needs REMAINS between 0 and the quantity {quantity}.").format(
            quantity=d.get("quantity")
        ),
        "not_resendable": _(
            "#{id} is {status}: only orders in review or manual can be resent."
        ).format(id=order_id, status=html.quote(str(d.get("status")))),
        "not_mapped": _("The service of #{id} is not mapped: /map {service} first.").format(
            id=order_id, service=d.get("service_id")
        ),
        "provider_disabled": _("Provider {name} is disabled: /providerset {name} on first.").format(
            name=inline(str(d.get("provider")), 64)
        ),
    }
    return texts.get(error.code, html.quote(error.code))


async def do_resend(
    message: Message,
    session: AsyncSession,
    registry: ProviderRegistry,
    admin_id: int,
    admin_ids: frozenset[int],
    order_id: int,
    currency: str,
    *,
    confirmed: bool,
) -> None:
    try:
        order = await admin_actions.resend(
            session, registry, order_id, admin_id=admin_id, admin_ids=admin_ids, confirmed=confirmed
        )
    except ActionError as error:
        if error.code == "needs_confirmation":
            text, markup = resend_warning(order_id, str(error.details.get("reason", "")))
            await message.answer(text, reply_markup=markup)
        else:
            await message.answer(action_error_text(error, currency))
        return
    if order.status in (OrderStatus.PENDING, OrderStatus.PROCESSING, OrderStatus.IN_PROGRESS):
        text = _("✅ #{id} sent: {status}, provider order {po}.").format(
            id=order.id, status=html.quote(order.status), po=inline(order.provider_order_id, 60)
        )
    elif order.status in (OrderStatus.QUEUED, OrderStatus.SUBMITTING):
        text = _(
            "#{id} is queued: the provider did not take it yet ({error}); it is retried "
            "automatically, see /order {id}."
        ).format(id=order.id, error=inline(order.last_error or "—", 200))
    else:
        text = _("#{id} was sent again and is now {status}: {error}").format(
            id=order.id, status=html.quote(order.status), error=inline(order.last_error or "—", 300)
        )
    await message.answer(text)


async def do_refund(
    message: Message,
    session: AsyncSession,
    admin_id: int,
    order_id: int,
    value: Decimal | None,
    currency: str,
) -> None:
    try:
        result = await admin_actions.refund_order(
            session,
            order_id,
            value,
            admin_id=admin_id,
            key=f"{message.chat.id}:{message.message_id}",
        )
    except ActionError as error:
        await message.answer(action_error_text(error, currency))
        return
    order = result.order
    if not result.refunded:
        await message.answer(_("#{id}: this refund was already made.").format(id=order.id))
        return
    lines = [
        _("✅ Refunded {amount} {currency} of #{id} to user {user}.").format(
            amount=amount(result.refunded), currency=currency, id=order.id, user=order.user_id
        )
    ]
    if result.canceled:
        lines.append(_("The order is canceled."))
    if result.was_active:
        lines.append(
            _("⚠️ The provider may still deliver it: cancel it on the provider's side too.")
        )
    await message.answer("\n".join(lines))


async def do_set_status(
    message: Message,
    session: AsyncSession,
    admin_id: int,
    order_id: int,
    status: str,
    currency: str,
    *,
    remains: int | None = None,
    provider_order_id: str | None = None,
) -> None:
    try:
        result = await admin_actions.set_status(
            session,
            order_id,
            status,
            admin_id=admin_id,
            remains=remains,
            provider_order_id=provider_order_id,
        )
    except ActionError as error:
        await message.answer(action_error_text(error, currency))
        return
    lines = [
        _("✅ #{id}: {old} → {new}. The customer gets a message.").format(
            id=result.order.id, old=html.quote(result.old), new=html.quote(result.order.status)
        )
    ]
    if result.refunded:
        lines.append(
            _("Refunded {amount} {currency}.").format(
                amount=amount(result.refunded), currency=currency
            )
        )
    if provider_order_id:
        lines.append(
            _("Provider order {po}: status sync follows it from now on.").format(
                po=inline(provider_order_id, 60)
            )
        )
    await message.answer("\n".join(lines))


async def order_command(
    message: Message, command: CommandObject, session: AsyncSession, currency: str
) -> None:
    args = (command.args or "").split()
    order_id = to_int(args[0]) if len(args) == 1 else None
    if order_id is None:
        await message.answer(usage("/order ORDER_ID"))
        return
    order = await load_order(session, order_id)
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
    args = (command.args or "").split()
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
    args = (command.args or "").split()
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
    args = (command.args or "").split()
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
    order = await load_order(session, order_id)
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


def create_router() -> Router:
    router = Router(name="admin.orders")
    router.message.register(order_command, Command("order"))
    router.message.register(review_command, Command("review"))
    router.callback_query.register(review_turn, ReviewPage.filter())
    router.message.register(resend_command, Command("resend"))
    router.message.register(refund_command, Command("refund"))
    router.message.register(setstatus_command, Command("setstatus"))
    router.callback_query.register(order_button, OrderAction.filter())
    return router


__all__ = ["OrderAction", "ReviewPage", "create_router"]
