"""The mass order's Confirm button: place all valid lines once under the key
`mass:<user>:<nonce>` (core answers "already placed" for a double tap, a replay or a
concurrent tap) and answer at once from the database, LINES_PER_MESSAGE orders to a message
(the first replaces the preview). Each order's provider lane then sends it; the answers edit
these same messages (pending with the order number, refused and refunded, awaiting review)
through the outbox, coalesced: no extra message."""

from __future__ import annotations

from decimal import Decimal

from aiogram import Bot
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from core.billing import InsufficientFunds
from core.lanes import SubmissionLanes
from core.mass_order import (
    mass_key,
    orders_by_key_prefix,
    page_view,
    pages,
    place_mass_order,
    shown_in,
)
from core.ordering import OrderDraft, OrderError
from db.models import Order, User
from handlers.mass_order.callbacks import MassCallback, MassOrderFlow
from handlers.mass_order.texts import placed_text, stale_text
from handlers.order_views import after_order_keyboard, not_enough_text
from handlers.placing import (
    answer_already_placed,
    answer_not_current,
    confirmation_data,
    wake_lanes,
)
from handlers.ui import answers_itself, show


@answers_itself
async def confirm(
    query: CallbackQuery,
    callback_data: MassCallback,
    session: AsyncSession,
    user: User,
    state: FSMContext,
    bot: Bot,
    lanes: SubmissionLanes,
    admin_ids: frozenset[int],
    currency: str,
) -> None:
    user_id = user.id
    key = mass_key(user_id, callback_data.nonce)
    data = await confirmation_data(state, MassOrderFlow.confirm, "mass", callback_data.nonce)
    if data is None:  # placed already (a double tap, a replay), or an old screen
        placed = await orders_by_key_prefix(session, user_id, key)
        await answer_not_current(query, placed, stale_text())
        return
    drafts = [OrderDraft(int(sid), str(link), int(qty)) for sid, link, qty in data["drafts"]]
    # The previewed total: prices changed since then are not charged unseen.
    expected = Decimal(data["total"]) if data.get("total") else None
    try:
        result = await place_mass_order(
            session,
            user_id,
            drafts,
            key=key,
            admin_ids=admin_ids,
            expected_total=expected,
            confirm_message_id=query.message.message_id if query.message else None,
        )
    except InsufficientFunds as exc:
        await query.answer(not_enough_text(exc.missing, currency), show_alert=True)
        return
    except OrderError:
        await state.set_state(MassOrderFlow.lines)
        await query.answer(
            _("Some services changed meanwhile. Send the lines again."), show_alert=True
        )
        return
    if not result.new:  # a concurrent tap placed them first
        await answer_already_placed(query, result.orders)
        return
    await state.clear()
    await query.answer()
    orders = result.orders  # their services were read while placing them
    first, *rest = pages(orders)
    text, markup = placed_message(orders, first, currency)
    await show(query, bot, text, markup)
    later: dict[int, list[int]] = {}
    for page in rest:
        text, markup = placed_message(orders, page, currency)
        sent = await bot.send_message(user_id, text, reply_markup=markup)
        later[sent.message_id] = [order.id for order in page]
    if later:
        await shown_in(session, user_id, later)
    wake_lanes(lanes, orders)


def placed_message(
    orders: list[Order], page: list[Order], currency: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One confirmation message; the last one carries the buttons."""
    view = page_view(orders, page)
    return placed_text(view, currency), after_order_keyboard() if view["last"] else None
