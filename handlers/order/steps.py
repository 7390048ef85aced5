"""One order in the chat, step by step: service → link → quantity (or list) → confirmation
(SPEC §3); the Confirm button is handled in handlers.order.confirm.

FSM data holds only ids, the link, the quantity and the list lines, plus two nonces: `flow`
(set when the service is picked; the Cancel button carries it) and `confirm` (set when the
confirmation is shown; the Confirm button carries it).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from aiogram import Bot
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.types import User as TgUser
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from core.catalog_cache import CatalogCache, ServiceView
from core.links import accepts_username, check_link
from core.ordering import OrderDraft, OrderError, quote
from core.pricing import check_quantity, input_kind, lines_field, parse_quantity, split_lines
from handlers.menu import main_menu_keyboard
from handlers.order import extras
from handlers.order.callbacks import FlowCallback, OrderFlow, ServicePick
from handlers.order.keyboards import cancel_keyboard, confirmation_keyboard, link_keyboard
from handlers.order.texts import (
    cancelled_text,
    confirmation_text,
    lines_prompt,
    link_problem_text,
    quantity_problem_text,
    quantity_prompt,
    service_card,
    stale_text,
    unavailable_text,
)
from handlers.placing import confirmation_data
from handlers.ui import answers_itself, show


def new_nonce() -> str:
    return secrets.token_hex(6)


def draft_from(data: dict[str, Any], service: ServiceView) -> OrderDraft:
    special = extras.draft_extra(data, service)  # drip-feed or subscription
    if special is not None:
        return special
    field = lines_field(service.type)
    extra = {field: list(data["lines"])} if field and data.get("lines") else {}
    return OrderDraft(service.id, data["link"], int(data["quantity"]), extra)


async def cancel_command(message: Message, state: FSMContext) -> None:
    """Leaves any flow, this one or another feature's."""
    if await state.get_state() is None:
        await message.answer(_("Nothing to cancel."), reply_markup=main_menu_keyboard())
        return
    await state.clear()
    await message.answer(cancelled_text(), reply_markup=main_menu_keyboard())


@answers_itself
async def service_picked(
    query: CallbackQuery,
    callback_data: ServicePick,
    session: AsyncSession,
    catalog: CatalogCache,
    state: FSMContext,
    bot: Bot,
    currency: str,
) -> None:
    service = await catalog.service(session, callback_data.service_id)
    if service is None:
        await query.answer(_("This service is not available."), show_alert=True)
        return
    flow = new_nonce()
    subscription = input_kind(service.type) == "subscription"
    await state.set_state(OrderFlow.username if subscription else OrderFlow.link)
    await state.set_data({"flow": flow, "service_id": service.id})
    await query.answer()
    await show(query, bot, service_card(service, currency), link_keyboard(service, flow))


async def flow_service(
    message: Message, session: AsyncSession, catalog: CatalogCache, state: FSMContext
) -> tuple[dict[str, Any], ServiceView] | None:
    """The flow's service, or None (flow ended) after telling the customer."""
    data = await state.get_data()
    service = await catalog.service(session, int(data.get("service_id") or 0))
    if service is None:
        await state.clear()
        await message.answer(unavailable_text())
        return None
    return data, service


# A text step's check: the data to keep, or the problem in the customer's words.
Check = Callable[[str, ServiceView, dict[str, Any]], "dict[str, Any] | str"]


async def text_step(
    message: Message,
    session: AsyncSession,
    catalog: CatalogCache,
    state: FSMContext,
    check: Check,
) -> tuple[dict[str, Any], ServiceView] | None:
    """One text step of the flow: the flow's service (or the flow ends), the text checked;
    a problem is answered and the step stays, otherwise the data is kept and returned with
    the service for the next step."""
    found = await flow_service(message, session, catalog, state)
    if found is None:
        return None
    data, service = found
    outcome = check(message.text or "", service, data)
    if isinstance(outcome, str):
        await message.answer(outcome, reply_markup=cancel_keyboard(data["flow"]))
        return None
    await state.update_data(outcome)
    return {**data, **outcome}, service


def link_checked(text: str, service: ServiceView, data: dict[str, Any]) -> dict[str, Any] | str:
    platform = service.category.platform
    username_ok = accepts_username(service.name, platform)
    checked = check_link(text, platform, username_ok=username_ok)
    if checked.link is None:
        return link_problem_text(checked.problem, platform, username_ok)
    return {"link": checked.link}


def quantity_checked(text: str, service: ServiceView, data: dict[str, Any]) -> dict[str, Any] | str:
    quantity = parse_quantity(text)
    problem = (
        None
        if quantity is None
        else check_quantity(quantity, service.min, service.max, service.step)
    )
    if quantity is None or problem is not None:
        code = problem.code if problem else "not_a_number"
        return quantity_problem_text(code, service.min, service.max, service.step)
    return {"quantity": quantity, "runs": None}


def lines_checked(text: str, service: ServiceView, data: dict[str, Any]) -> dict[str, Any] | str:
    lines = split_lines(text)
    if check_quantity(len(lines), service.min, service.max) is not None:
        return _("You sent {count} lines; this service takes {min} to {max}.").format(
            count=len(lines), min=service.min, max=service.max
        )
    return {"quantity": len(lines), "lines": lines}


async def link_sent(
    message: Message,
    session: AsyncSession,
    catalog: CatalogCache,
    event_from_user: TgUser,
    state: FSMContext,
    currency: str,
) -> None:
    step = await text_step(message, session, catalog, state, link_checked)
    if step is None:
        return
    data, service = step
    kind = input_kind(service.type)
    if kind == "lines":
        await state.set_state(OrderFlow.lines)
        await message.answer(lines_prompt(service), reply_markup=cancel_keyboard(data["flow"]))
    elif kind == "package":
        await state.update_data(quantity=1)
        await show_confirmation(message, session, event_from_user.id, state, service, currency)
    else:
        await state.set_state(OrderFlow.quantity)
        await message.answer(quantity_prompt(service), reply_markup=cancel_keyboard(data["flow"]))


async def quantity_sent(
    message: Message,
    session: AsyncSession,
    catalog: CatalogCache,
    event_from_user: TgUser,
    state: FSMContext,
    currency: str,
) -> None:
    step = await text_step(message, session, catalog, state, quantity_checked)
    if step is None:
        return
    data, service = step
    if service.dripfeed:
        await extras.offer_dripfeed(message, state, int(data["quantity"]))
        return
    await show_confirmation(message, session, event_from_user.id, state, service, currency)


async def lines_sent(
    message: Message,
    session: AsyncSession,
    catalog: CatalogCache,
    event_from_user: TgUser,
    state: FSMContext,
    currency: str,
) -> None:
    step = await text_step(message, session, catalog, state, lines_checked)
    if step is not None:
        await show_confirmation(message, session, event_from_user.id, state, step[1], currency)


async def show_confirmation(
    message: Message,
    session: AsyncSession,
    user_id: int,
    state: FSMContext,
    service: ServiceView,
    currency: str,
) -> None:
    data = await state.get_data()
    draft = draft_from(data, service)
    try:
        q = await quote(session, user_id, draft, service=service)
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


async def wrong_input(message: Message, state: FSMContext) -> None:
    """A photo, a sticker ... where text is expected: say what is, stay in the step."""
    hints = {
        OrderFlow.link.state: _("Please send the link as a text message (or /cancel)."),
        OrderFlow.dripfeed.state: _("Please choose with the buttons above (or /cancel)."),
        OrderFlow.quantity.state: _("Please send the quantity as a number (or /cancel)."),
        OrderFlow.lines.state: _(
            "Please send the list as a text message, one per line (or /cancel)."
        ),
    }
    data = await state.get_data()
    text_hint = _("Please send your answer as a text message (or /cancel).")
    await message.answer(
        hints.get(await state.get_state() or OrderFlow.link.state, text_hint),
        reply_markup=cancel_keyboard(data.get("flow", "")),
    )


async def confirm_wrong_input(message: Message) -> None:
    await message.answer(_("Please press ✅ Confirm or ✖ Cancel above (or send /cancel)."))


@answers_itself
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


@answers_itself
async def requote(
    query: CallbackQuery,
    callback_data: FlowCallback,
    session: AsyncSession,
    catalog: CatalogCache,
    event_from_user: TgUser,
    state: FSMContext,
    bot: Bot,
    currency: str,
) -> None:
    data = await confirmation_data(state, OrderFlow.confirm, "confirm", callback_data.nonce)
    if data is None:
        await query.answer(stale_text(), show_alert=True)
        return
    try:
        service = await catalog.service(session, int(data["service_id"]))
        if service is None:
            raise OrderError("service_unavailable")
        draft = draft_from(data, service)
        q = await quote(session, event_from_user.id, draft, service=service)
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
