"""One order in the chat: service → link → quantity (or list) → confirm → Auto Order (SPEC §3).

FSM data holds only ids, the link, the quantity and the list lines, plus two nonces: `flow`
(set when the service is picked; the Cancel button carries it) and `confirm` (set when the
confirmation is shown; the Confirm button carries it). The order's idempotency key is
`confirm:<user>:<confirm nonce>`, so a double tap or a replay of the same confirmation finds
the order it already placed instead of placing another.
"""

from __future__ import annotations

import logging
import secrets
from decimal import Decimal
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from core.billing import InsufficientFunds
from core.links import accepts_username, check_link
from core.ordering import (
    OrderDraft,
    OrderError,
    order_by_key,
    orderable_service,
    place_order,
    quote,
)
from core.pricing import check_quantity, input_kind, lines_field, parse_quantity, split_lines
from core.submission import submit_order
from db.models import Order, Service, User
from handlers.catalog import (
    FlowCallback,
    ServicePick,
    cancel_keyboard,
    confirmation_keyboard,
    confirmation_text,
    lines_prompt,
    link_keyboard,
    quantity_prompt,
    service_card,
)
from handlers.menu import main_menu_keyboard
from handlers.order_views import (
    after_order_keyboard,
    link_problem_text,
    placed_text,
    quantity_problem_text,
    status_label,
)
from handlers.ui import NOT_A_COMMAND, money_text, show
from providers import ProviderRegistry

log = logging.getLogger(__name__)


class OrderFlow(StatesGroup):
    link = State()
    quantity = State()
    lines = State()
    confirm = State()


def new_nonce() -> str:
    return secrets.token_hex(6)


def confirm_key(user_id: int, nonce: str) -> str:
    return f"confirm:{user_id}:{nonce}"


def draft_from(data: dict[str, Any], service: Service) -> OrderDraft:
    field = lines_field(service.type)
    extra = {field: list(data["lines"])} if field and data.get("lines") else {}
    return OrderDraft(service.id, data["link"], int(data["quantity"]), extra)


# --- texts and keyboards (pure) ---------------------------------------------------------


def stale_text() -> str:
    return _("This order screen is no longer active. Start again with /neworder.")


def unavailable_text() -> str:
    return _("This service is no longer available. Choose another one with /neworder.")


def cancelled_text() -> str:
    return _("Cancelled. Nothing was ordered.")


async def answer_already_placed(query: CallbackQuery, order: Order) -> None:
    await query.answer(
        _("Order #{id} is already placed: {status}.").format(
            id=order.id, status=status_label(order.status)
        ),
        show_alert=True,
    )


# --- handlers ---------------------------------------------------------------------------


def create_router() -> Router:
    router = Router(name="order_flow")

    @router.message(Command("cancel"))
    async def cancel_command(message: Message, state: FSMContext) -> None:
        """Leaves any flow, this one or another feature's."""
        if await state.get_state() is None:
            await message.answer(_("Nothing to cancel."), reply_markup=main_menu_keyboard())
            return
        await state.clear()
        await message.answer(cancelled_text(), reply_markup=main_menu_keyboard())

    @router.callback_query(ServicePick.filter())
    async def service_picked(
        query: CallbackQuery,
        callback_data: ServicePick,
        session: AsyncSession,
        state: FSMContext,
        bot: Bot,
        currency: str,
    ) -> None:
        try:
            service = await orderable_service(session, callback_data.service_id)
        except OrderError:
            await query.answer(_("This service is not available."), show_alert=True)
            return
        flow = new_nonce()
        await state.set_state(OrderFlow.link)
        await state.set_data({"flow": flow, "service_id": service.id})
        await query.answer()
        await show(query, bot, service_card(service, currency), link_keyboard(service, flow))

    async def flow_service(message: Message, session: AsyncSession, state: FSMContext) -> Any:
        """The flow's service, or None (flow ended) after telling the customer."""
        data = await state.get_data()
        try:
            return data, await orderable_service(session, int(data["service_id"]))
        except (OrderError, KeyError):
            await state.clear()
            await message.answer(unavailable_text())
            return None

    @router.message(OrderFlow.link, F.text, NOT_A_COMMAND)
    async def link_sent(
        message: Message, session: AsyncSession, user: User, state: FSMContext, currency: str
    ) -> None:
        found = await flow_service(message, session, state)
        if found is None:
            return
        data, service = found
        platform = service.category.platform
        username_ok = accepts_username(service.name, platform)
        checked = check_link(message.text or "", platform, username_ok=username_ok)
        if checked.link is None:
            await message.answer(
                link_problem_text(checked.problem, platform, username_ok),
                reply_markup=cancel_keyboard(data["flow"]),
            )
            return
        await state.update_data(link=checked.link)
        kind = input_kind(service.type)
        if kind == "lines":
            await state.set_state(OrderFlow.lines)
            await message.answer(lines_prompt(service), reply_markup=cancel_keyboard(data["flow"]))
        elif kind == "package":
            await state.update_data(quantity=1)
            await show_confirmation(message, session, user, state, service, currency)
        else:
            await state.set_state(OrderFlow.quantity)
            await message.answer(
                quantity_prompt(service), reply_markup=cancel_keyboard(data["flow"])
            )

    @router.message(OrderFlow.quantity, F.text, NOT_A_COMMAND)
    async def quantity_sent(
        message: Message, session: AsyncSession, user: User, state: FSMContext, currency: str
    ) -> None:
        found = await flow_service(message, session, state)
        if found is None:
            return
        data, service = found
        quantity = parse_quantity(message.text or "")
        problem = (
            None
            if quantity is None
            else check_quantity(quantity, service.min, service.max, service.step)
        )
        if quantity is None or problem is not None:
            code = problem.code if problem else "not_a_number"
            await message.answer(
                quantity_problem_text(code, service.min, service.max, service.step),
                reply_markup=cancel_keyboard(data["flow"]),
            )
            return
        await state.update_data(quantity=quantity)
        await show_confirmation(message, session, user, state, service, currency)

    @router.message(OrderFlow.lines, F.text, NOT_A_COMMAND)
    async def lines_sent(
        message: Message, session: AsyncSession, user: User, state: FSMContext, currency: str
    ) -> None:
        found = await flow_service(message, session, state)
        if found is None:
            return
        data, service = found
        lines = split_lines(message.text or "")
        problem = check_quantity(len(lines), service.min, service.max)
        if problem is not None:
            await message.answer(
                _("You sent {count} lines; this service takes {min} to {max}.").format(
                    count=len(lines), min=service.min, max=service.max
                ),
                reply_markup=cancel_keyboard(data["flow"]),
            )
            return
        await state.update_data(quantity=len(lines), lines=lines)
        await show_confirmation(message, session, user, state, service, currency)

    async def show_confirmation(
        message: Message,
        session: AsyncSession,
        user: User,
        state: FSMContext,
        service: Service,
        currency: str,
    ) -> None:
        data = await state.get_data()
        draft = draft_from(data, service)
        try:
            q = await quote(session, user.id, draft)
        except OrderError:
            await state.clear()
            await message.answer(unavailable_text())
            return
        confirm = new_nonce()
        await state.set_state(OrderFlow.confirm)
        await state.update_data(confirm=confirm, charge=str(q.charge))
        await message.answer(
            confirmation_text(q, draft, currency),
            reply_markup=confirmation_keyboard(q, data["flow"], confirm),
        )

    @router.message(StateFilter(OrderFlow.link, OrderFlow.quantity, OrderFlow.lines), NOT_A_COMMAND)
    async def wrong_input(message: Message, state: FSMContext) -> None:
        """A photo, a sticker ... where text is expected: say what is, stay in the step."""
        hints = {
            OrderFlow.link.state: _("Please send the link as a text message (or /cancel)."),
            OrderFlow.quantity.state: _("Please send the quantity as a number (or /cancel)."),
            OrderFlow.lines.state: _(
                "Please send the list as a text message, one per line (or /cancel)."
            ),
        }
        data = await state.get_data()
        await message.answer(
            hints[await state.get_state() or OrderFlow.link.state],
            reply_markup=cancel_keyboard(data.get("flow", "")),
        )

    @router.message(OrderFlow.confirm, NOT_A_COMMAND)
    async def confirm_wrong_input(message: Message) -> None:
        await message.answer(_("Please press ✅ Confirm or ✖ Cancel above (or send /cancel)."))

    @router.callback_query(FlowCallback.filter(F.action == "cancel"))
    async def cancel_button(
        query: CallbackQuery, callback_data: FlowCallback, state: FSMContext, bot: Bot
    ) -> None:
        data = await state.get_data()
        if await state.get_state() is None or data.get("flow") != callback_data.nonce:
            await query.answer(stale_text(), show_alert=True)
            return
        await state.clear()
        await query.answer()
        await show(query, bot, cancelled_text(), main_menu_keyboard())

    @router.callback_query(FlowCallback.filter(F.action == "requote"))
    async def requote(
        query: CallbackQuery,
        callback_data: FlowCallback,
        session: AsyncSession,
        user: User,
        state: FSMContext,
        bot: Bot,
        currency: str,
    ) -> None:
        data = await state.get_data()
        if await state.get_state() != OrderFlow.confirm or data.get("confirm") != (
            callback_data.nonce
        ):
            await query.answer(stale_text(), show_alert=True)
            return
        try:
            service = await orderable_service(session, int(data["service_id"]))
            draft = draft_from(data, service)
            q = await quote(session, user.id, draft)
        except OrderError:
            await state.clear()
            await query.answer(unavailable_text(), show_alert=True)
            return
        await state.update_data(charge=str(q.charge))
        await query.answer()
        await show(
            query,
            bot,
            confirmation_text(q, draft, currency),
            confirmation_keyboard(q, data["flow"], callback_data.nonce),
        )

    @router.callback_query(FlowCallback.filter(F.action == "confirm"))
    async def confirm(
        query: CallbackQuery,
        callback_data: FlowCallback,
        session: AsyncSession,
        user: User,
        state: FSMContext,
        bot: Bot,
        registry: ProviderRegistry,
        admin_ids: frozenset[int],
        currency: str,
    ) -> None:
        user_id = user.id
        key = confirm_key(user_id, callback_data.nonce)
        placed = await order_by_key(session, user_id, key)
        if placed is not None:  # a double tap or a replay: the order it already placed
            await answer_already_placed(query, placed)
            return
        data = await state.get_data()
        if await state.get_state() != OrderFlow.confirm or data.get("confirm") != (
            callback_data.nonce
        ):
            await query.answer(stale_text(), show_alert=True)
            return
        # What the confirmation showed; a price changed since then is not charged unseen.
        expected = Decimal(data["charge"]) if data.get("charge") else None
        try:
            service = await orderable_service(session, int(data["service_id"]))
            draft = draft_from(data, service)
            result = await place_order(
                session, user_id, draft, key=key, admin_ids=admin_ids, expected_charge=expected
            )
        except InsufficientFunds as exc:
            await query.answer(
                _("Not enough balance: {missing} missing.").format(
                    missing=money_text(exc.missing, currency)
                ),
                show_alert=True,
            )
            return
        except OrderError as exc:
            if exc.code == "price_changed":
                await confirm_new_price(query, session, user_id, state, bot, draft, currency)
                return
            await state.clear()
            await query.answer(unavailable_text(), show_alert=True)
            return
        if not result.new:  # a concurrent tap placed it first
            await answer_already_placed(query, result.order)
            return
        order = result.order
        await state.clear()
        await query.answer()
        try:
            await submit_order(
                session, registry, order.id, admin_ids=admin_ids, notify_customer=False
            )
        except Exception:  # left queued: the scheduler sends it; never lose the answer
            log.exception("submitting order %s failed", order.id)
        order = await order_by_key(session, user_id, key) or order
        await show(query, bot, placed_text(order, currency), after_order_keyboard())

    async def confirm_new_price(
        query: CallbackQuery,
        session: AsyncSession,
        user_id: int,
        state: FSMContext,
        bot: Bot,
        draft: OrderDraft,
        currency: str,
    ) -> None:
        """The price changed after the confirmation was shown: show the new one instead."""
        try:
            q = await quote(session, user_id, draft)
        except OrderError:
            await state.clear()
            await query.answer(unavailable_text(), show_alert=True)
            return
        confirm = new_nonce()
        await state.update_data(confirm=confirm, charge=str(q.charge))
        await query.answer(
            _(
                "The price has changed: the charge is now {amount}. Please check and confirm again."
            ).format(amount=money_text(q.charge, currency)),
            show_alert=True,
        )
        data = await state.get_data()
        await show(
            query,
            bot,
            confirmation_text(q, draft, currency),
            confirmation_keyboard(q, data["flow"], confirm),
        )

    return router
