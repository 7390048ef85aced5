"""Orders: /order, /review, /resend, /refund, /setstatus and the order card's buttons.

Handlers in commands; what they do to an order in actions; the card, the review list and
the buttons in views and callbacks.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command

from handlers.admin.orders import commands
from handlers.admin.orders.callbacks import OrderAction, ReviewPage


def create_router() -> Router:
    router = Router(name="admin.orders")
    router.message.register(commands.order_command, Command("order"))
    router.message.register(commands.review_command, Command("review"))
    router.callback_query.register(commands.review_turn, ReviewPage.filter())
    router.message.register(commands.resend_command, Command("resend"))
    router.message.register(commands.refund_command, Command("refund"))
    router.message.register(commands.setstatus_command, Command("setstatus"))
    router.callback_query.register(commands.order_button, OrderAction.filter())
    return router
