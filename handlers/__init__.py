"""Telegram UI: one router per feature, in the order they must be tried (fallback last)."""

from __future__ import annotations

import bot  # noqa: F401  (first: aiogram's validators are built lazily, see bot.lean_aiogram)

# isort: split
from aiogram import Router

from handlers import (
    admin,
    balance,
    fallback,
    mass_order,
    menu,
    my_orders,
    order,
    payments,
    reorder,
    search,
)
from handlers.referrals import customer as referrals
from handlers.support import customer as support


def get_routers() -> list[Router]:
    return [
        admin.create_router(),  # ADMIN_IDS only; others fall through to fallback
        menu.create_router(),
        balance.create_router(),
        payments.create_router(),  # top-up flow (its amount step) before the order flow
        order.create_router(),  # /cancel first: it leaves any flow
        my_orders.create_router(),
        reorder.create_router(),
        mass_order.create_router(),
        support.create_router(),
        referrals.create_router(),
        search.create_router(),  # text no step waits for: a search
        fallback.create_router(),
    ]
