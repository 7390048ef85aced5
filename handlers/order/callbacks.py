"""The order flow's buttons and steps: callback data (ids and nonces, never text) and states."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup

from handlers.ui import ButtonId


class CategoriesPage(CallbackData, prefix="oc"):
    page: ButtonId


class CategoryPick(CallbackData, prefix="ocs"):
    category_id: ButtonId
    page: ButtonId


class ServicePick(CallbackData, prefix="osv"):
    service_id: ButtonId


class FlowCallback(CallbackData, prefix="of"):
    """Buttons of one order flow; `nonce` ties them to it (a stale or forged one is refused)."""

    action: str  # confirm | cancel | requote | once | drip
    nonce: str


class OrderFlow(StatesGroup):
    link = State()
    quantity = State()
    lines = State()
    dripfeed = State()  # all at once, or drip-feed?
    runs = State()
    interval = State()
    username = State()  # subscriptions: username, per-post min and max, posts, delay, expiry
    per_min = State()
    per_max = State()
    posts = State()
    delay = State()
    expiry = State()
    confirm = State()
