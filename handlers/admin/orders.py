"""Orders: /order, /review, /resend, /refund, /setstatus and their inline actions.

Buttons carry only an order id and an action; every press re-reads the order in core, so a
button on an old message acts on the order as it is now (or says why it cannot).
"""

from __future__ import annotations

from decimal import Decimal

from aiogram import Router, html
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core import admin_actions
from core.admin_actions import ActionError, load_order
from core.statuses import OrderStatus
from db.models import LedgerEntry, Order
from handlers.admin.common import amount, answer_long, clip, to_amount, to_int, usage, when
from providers import ProviderRegistry

REVIEW_PER_PAGE = 8
NEEDS_HUMAN = (OrderStatus.REVIEW, OrderStatus.MANUAL)
BUTTON_STATUSES = (
    OrderStatus.COMPLETED,
    OrderStatus.IN_PROGRESS,
    OrderStatus.PENDING,
    OrderStatus.CANCELED,
)


class OrderAction(CallbackData, prefix="adm_ord"):
    # card | resend | resend_ok | refund | refund_ok | status | set
    action: str
    order_id: int
    value: str = ""


class ReviewPage(CallbackData, prefix="adm_rev"):
    page: int


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
        text += f" — {clip(order.last_error, 150)}"
    return text


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
            name=clip(str(d.get("provider")), 64)
        ),
    }
    return texts.get(error.code, html.quote(error.code))


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
            id=service.id, name=clip(service.name, 60), mode=html.quote(service.mode)
        ),
        _("Link: {link}").format(link=clip(order.link, 200)),
        _("Quantity: {quantity} · start count {start} · remains {remains}").format(
            quantity=order.quantity,
            start=order.start_count if order.start_count is not None else "—",
            remains=order.remains if order.remains is not None else "—",
        ),
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
            provider=clip(provider, 64),
            ps=clip(order.provider_service_id or "—", 30),
            po=clip(order.provider_order_id or "—", 60),
            raw=clip(order.provider_status or "—", 40),
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
                error=clip(order.last_error or "—", 300), code=html.quote(order.error_code or "—")
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
        note = f" · {clip(change.note, 100)}" if change.note else ""
        lines.append(
            f"{when(change.created_at)} {html.quote(change.old_status or '∅')} → "
            f"{html.quote(change.new_status)}{by}{note}"
        )
    refunds = list(
        await session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.order_id == order.id, LedgerEntry.kind == "refund")
            .order_by(LedgerEntry.id)
        )
    )
    if refunds:
        lines += ["", _("<b>Refunds</b>")]
        for entry in refunds:
            by = " " + _("by admin {id}").format(id=entry.admin_id) if entry.admin_id else ""
            lines.append(
                f"{when(entry.created_at)} +{amount(entry.amount)} {currency}{by} "
                f"({html.quote(entry.idempotency_key.split(':')[2])})"
            )
    return lines


async def review_page(session: AsyncSession, page: int) -> tuple[str, InlineKeyboardMarkup | None]:
    where = Order.status.in_(NEEDS_HUMAN)
    total = await session.scalar(select(func.count()).select_from(Order).where(where)) or 0
    if not total:
        return _("✅ Nothing to review: no orders in review or manual."), None
    pages = (total + REVIEW_PER_PAGE - 1) // REVIEW_PER_PAGE
    page = min(page, pages - 1)
    orders = await session.scalars(
        select(Order)
        .where(where)
        .options(selectinload(Order.service))
        .order_by(Order.id)
        .offset(page * REVIEW_PER_PAGE)
        .limit(REVIEW_PER_PAGE)
    )
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
            f"<b>#{order.id}</b> · {html.quote(order.status)} · {clip(order.service.name, 40)} · "
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
    ).format(id=order_id, reason=clip(reason, 150))
    return text, kb.as_markup()


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
            id=order.id, status=html.quote(order.status), po=clip(order.provider_order_id, 60)
        )
    else:
        text = _("#{id} was sent again and is now {status}: {error}").format(
            id=order.id, status=html.quote(order.status), error=clip(order.last_error or "—", 300)
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
        result = await admin_actions.refund_order(session, order_id, value, admin_id=admin_id)
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
                po=clip(provider_order_id, 60)
            )
        )
    await message.answer("\n".join(lines))


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


def create_router() -> Router:
    router = Router(name="admin.orders")

    @router.message(Command("order"))
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

    @router.message(Command("review"))
    async def review_command(message: Message, session: AsyncSession) -> None:
        text, markup = await review_page(session, 0)
        await message.answer(text, reply_markup=markup)

    @router.callback_query(ReviewPage.filter())
    async def review_turn(
        query: CallbackQuery, callback_data: ReviewPage, session: AsyncSession
    ) -> None:
        await query.answer()
        text, markup = await review_page(session, max(callback_data.page, 0))
        if isinstance(query.message, Message):
            await query.message.edit_text(text, reply_markup=markup)

    @router.message(Command("resend"))
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

    @router.message(Command("refund"))
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

    @router.message(Command("setstatus"))
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

    @router.callback_query(OrderAction.filter())
    async def order_button(
        query: CallbackQuery,
        callback_data: OrderAction,
        session: AsyncSession,
        registry: ProviderRegistry,
        admin_ids: frozenset[int],
        currency: str,
    ) -> None:
        await query.answer()
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
                text=_("↩ Refund {amount} {currency}").format(
                    amount=amount(left), currency=currency
                ),
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

    return router


__all__ = ["OrderAction", "ReviewPage", "create_router"]
