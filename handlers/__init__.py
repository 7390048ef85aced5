"""Telegram UI: one router per feature, in the order they must be tried (fallback last)."""

from __future__ import annotations

from aiogram import Router

from handlers import balance, fallback, menu


def get_routers() -> list[Router]:
    return [
        menu.create_router(),
        balance.create_router(),
        fallback.create_router(),
    ]
