"""The mass order's Confirm button: place all valid lines once under the key
`mass:<user>:<nonce>` (core answers "already placed" for a double tap, a replay or a
concurrent tap) and answer at once; each order's provider lane sends it right away (a
refusal or a review is then told as a status message; an accepted order needs none)."""

from __future__ import annotations

from decimal import Decimal

from aiogram import Bot
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from core.billing import InsufficientFunds
from core.lanes import SubmissionLanes
from core.mass_order import orders_by_key_prefix, place_mass_order
from core.ordering import OrderDraft, OrderError
from db.models import Order, User
from handlers.mass_order.callbacks import MassCallback, MassOrderFlow
from handlers.mass_order.texts import result_text, stale_text
from handlers.order_views import after_order_keyboard, not_enough_text
from handlers.ui import answers_itself, show


def mass_key(user_id: int, nonce: str) -> str:
    return f"mass:{user_id}:{nonce}"


async def answer_already_placed(query: CallbackQuery, orders: list[Order]) -> None:
    await query.answer(
        _("Already placed: {ids}.").format(ids=", ".join(f"#{o.id}" for o in orders)),
        show_alert=True,
    )


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
    placed = await orders_by_key_prefix(session, user_id, key)
    if placed:  # a double tap or a replay
        await answer_already_placed(query, placed)
        return
    data = await state.get_data()
    if await state.get_state() != MassOrderFlow.confirm or data.get("mass") != (
        callback_data.nonce
    ):
        await query.answer(stale_text(), show_alert=True)
        return
    drafts = [OrderDraft(int(sid), str(link), int(qty)) for sid, link, qty in data["drafts"]]
    # The previewed total: prices changed since then are not charged unseen.
    expected = Decimal(data["total"]) if data.get("total") else None
    try:
        result = await place_mass_order(
            session, user_id, drafts, key=key, admin_ids=admin_ids, expected_total=expected
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
    for provider_id in {order.provider_id for order in result.orders}:
        lanes.wake(provider_id)
    orders = await orders_by_key_prefix(session, user_id, key)
    *first, last = result_text(orders, currency)
    if first:
        await show(query, bot, first[0])
        for chunk in first[1:]:
            await bot.send_message(query.from_user.id, chunk)
        await bot.send_message(query.from_user.id, last, reply_markup=after_order_keyboard())
    else:
        await show(query, bot, last, after_order_keyboard())
