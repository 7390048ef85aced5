"""The Confirm button: place the order once (core answers "already placed" for a double tap,
a replay or a concurrent tap) and answer at once from the database. The order's provider
lane sends it right away; its answer edits this same message (pending with the order
number, refused and refunded, or awaiting review), through the outbox.

The order's idempotency key is `confirm:<user>:<confirm nonce>`, so a double tap or a replay
of the same confirmation finds the order it already placed instead of placing another.
"""

from __future__ import annotations

from decimal import Decimal

from aiogram import Bot
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery
from aiogram.types import User as TgUser
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from core.billing import InsufficientFunds
from core.catalog_cache import CatalogCache
from core.lanes import SubmissionLanes
from core.money import ZERO
from core.ordering import (
    OrderDraft,
    OrderError,
    order_by_key,
    place_order,
    quote,
)
from handlers.order.callbacks import FlowCallback, OrderFlow
from handlers.order.keyboards import confirmation_keyboard
from handlers.order.steps import draft_from, new_nonce
from handlers.order.texts import confirmation_text, placed_words, stale_text, unavailable_text
from handlers.order_views import after_order_keyboard, not_enough_text
from handlers.placing import (
    answer_already_placed,
    answer_not_current,
    confirmation_data,
    wake_lanes,
)
from handlers.ui import answers_itself, money_text, show


def confirm_key(user_id: int, nonce: str) -> str:
    return f"confirm:{user_id}:{nonce}"


@answers_itself
async def confirm(
    query: CallbackQuery,
    callback_data: FlowCallback,
    session: AsyncSession,
    catalog: CatalogCache,
    event_from_user: TgUser,
    state: FSMContext,
    bot: Bot,
    lanes: SubmissionLanes,
    admin_ids: frozenset[int],
    currency: str,
) -> None:
    user_id = event_from_user.id
    key = confirm_key(user_id, callback_data.nonce)
    data = await confirmation_data(state, OrderFlow.confirm, "confirm", callback_data.nonce)
    if data is None:  # placed already (a double tap, a replay), or an old screen
        placed = await order_by_key(session, user_id, key)
        await answer_not_current(query, [placed] if placed else [], stale_text())
        return
    # What the confirmation showed; a price changed since then is not charged unseen.
    expected = Decimal(data["charge"]) if data.get("charge") else None
    try:
        service = await catalog.service(session, int(data["service_id"]))
        if service is None:
            raise OrderError("service_unavailable")
        draft = draft_from(data, service)
        result = await place_order(
            session,
            user_id,
            draft,
            key=key,
            admin_ids=admin_ids,
            expected_charge=expected,
            confirm_message_id=query.message.message_id if query.message else None,
        )
    except InsufficientFunds as exc:
        await query.answer(not_enough_text(exc.missing, currency), show_alert=True)
        return
    except OrderError as exc:
        if exc.code == "price_changed":
            await confirm_new_price(query, session, user_id, state, bot, draft, currency)
            return
        await state.clear()
        await query.answer(unavailable_text(), show_alert=True)
        return
    if not result.new:  # a concurrent tap placed it first
        await answer_already_placed(query, [result.order])
        return
    await state.clear()
    await query.answer()
    order = result.order
    text = placed_words(order.id, service.name, order.status, None, ZERO, currency)
    await show(query, bot, text, after_order_keyboard())
    wake_lanes(lanes, [result.order])


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
