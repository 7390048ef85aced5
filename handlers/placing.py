"""What the Confirm buttons of an order and of a mass order share, so that both read the
same way: the flow data of the confirmation pressed, the answer to a button that is no
longer current (placed already, or an old screen), and what follows a placement."""

from __future__ import annotations

from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery
from aiogram.utils.i18n import gettext as _

from core.lanes import SubmissionLanes
from core.mass_order import is_mass
from db.models import Order
from handlers.order_views import status_label


async def confirmation_data(
    state: FSMContext, step: State, field: str, nonce: str
) -> dict[str, Any] | None:
    """The flow's data if it is at `step` and its confirmation is the one showing `nonce`
    (kept in `field`); None for a stale, forged or already placed one."""
    data = await state.get_data()
    if await state.get_state() != step or data.get(field) != nonce:
        return None
    return data


async def answer_already_placed(query: CallbackQuery, orders: list[Order]) -> None:
    if len(orders) == 1 and not is_mass(orders[0]):
        text = _("Order #{id} is already placed: {status}.").format(
            id=orders[0].id, status=status_label(orders[0].status)
        )
    else:
        text = _("Already placed: {ids}.").format(ids=", ".join(f"#{o.id}" for o in orders))
    await query.answer(text, show_alert=True)


async def answer_not_current(query: CallbackQuery, placed: list[Order], stale: str) -> None:
    """A Confirm no longer current: a double tap or a replay of one that placed `placed`,
    or an old screen."""
    if placed:
        await answer_already_placed(query, placed)
    else:
        await query.answer(stale, show_alert=True)


def wake_lanes(lanes: SubmissionLanes, orders: list[Order]) -> None:
    """Once the answer is shown: the orders' lanes send them, and their answers edit it."""
    for provider_id in {order.provider_id for order in orders}:
        lanes.wake(provider_id)
