"""What the admin does to one order (resend, refund, set a status), shared by the
commands and the buttons: call core, answer in plain words."""

from __future__ import annotations

from decimal import Decimal

from aiogram import html
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from core import admin_actions
from core.admin_actions import ActionError
from core.statuses import OrderStatus
from handlers.admin.common import amount, usage
from handlers.admin.orders.views import resend_warning
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
    if result.kept:
        lines.append(
            _(
                "⚠️ {amount} {currency} more was refunded before than this status implies: "
                "nothing was taken back (a negative /topup would)."
            ).format(amount=amount(result.kept), currency=currency)
        )
    if provider_order_id:
        lines.append(
            _("Provider order {po}: status sync follows it from now on.").format(
                po=inline(provider_order_id, 60)
            )
        )
    await message.answer("\n".join(lines))
