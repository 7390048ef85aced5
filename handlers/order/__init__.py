"""The order feature: browse the catalogue, the steps of one order, the Confirm button.

Handlers are module-level functions in browse, steps and confirm; create_router registers
them in the order they must be tried (/cancel first: it leaves any flow). Callback data,
keyboards and texts live beside them (callbacks, keyboards, texts).
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, StateFilter

from handlers.menu import MenuCallback
from handlers.order import browse, confirm, extras, steps
from handlers.order.callbacks import (
    CategoriesPage,
    CategoryPick,
    FlowCallback,
    OrderFlow,
    ServicePick,
)
from handlers.ui import NOT_A_COMMAND

# The drip-feed and subscription text steps (handlers.order.extras).
EXTRA_STEPS = (
    OrderFlow.runs,
    OrderFlow.interval,
    OrderFlow.username,
    OrderFlow.per_min,
    OrderFlow.per_max,
    OrderFlow.posts,
    OrderFlow.delay,
    OrderFlow.expiry,
)


def create_router() -> Router:
    router = Router(name="order")
    on_message, on_callback = router.message.register, router.callback_query.register
    on_message(steps.cancel_command, Command("cancel"))
    on_callback(steps.service_picked, ServicePick.filter())
    on_message(steps.link_sent, OrderFlow.link, F.text, NOT_A_COMMAND)
    on_message(steps.quantity_sent, OrderFlow.quantity, F.text, NOT_A_COMMAND)
    on_message(steps.lines_sent, OrderFlow.lines, F.text, NOT_A_COMMAND)
    on_message(extras.field_sent, StateFilter(*EXTRA_STEPS), F.text, NOT_A_COMMAND)
    text_steps = (OrderFlow.link, OrderFlow.quantity, OrderFlow.lines, OrderFlow.dripfeed)
    on_message(steps.wrong_input, StateFilter(*text_steps, *EXTRA_STEPS), NOT_A_COMMAND)
    on_message(steps.confirm_wrong_input, OrderFlow.confirm, NOT_A_COMMAND)
    on_callback(steps.cancel_button, FlowCallback.filter(F.action == "cancel"))
    on_callback(steps.requote, FlowCallback.filter(F.action == "requote"))
    on_callback(confirm.confirm, FlowCallback.filter(F.action == "confirm"))
    on_callback(extras.dripfeed_chosen, FlowCallback.filter(F.action.in_({"once", "drip"})))
    on_message(browse.new_order, Command("neworder"))
    on_callback(browse.new_order_button, MenuCallback.filter(F.action == "new_order"))
    on_callback(browse.categories_page, CategoriesPage.filter())
    on_callback(browse.category_page, CategoryPick.filter())
    return router
