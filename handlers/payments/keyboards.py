"""Callback data and keyboards of the top-up screens (pure functions)."""

from __future__ import annotations

from decimal import Decimal

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.money import format_money
from core.payments import stars_for
from handlers.payments.texts import method_name, pay_button


class TopupCallback(CallbackData, prefix="topup"):
    action: str  # start | method | amount | other
    method: str = ""
    amount: str = ""  # a preset, as text: re-checked against the settings when pressed


def topup_button_keyboard() -> InlineKeyboardMarkup:
    """The balance screen's button."""
    kb = InlineKeyboardBuilder()
    kb.button(text=_("➕ Top up"), callback_data=TopupCallback(action="start"))
    return kb.as_markup()


def methods_keyboard(methods: list[str]) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for method in methods:
        kb.button(
            text=method_name(method), callback_data=TopupCallback(action="method", method=method)
        )
    kb.adjust(1)
    return kb.as_markup()


def amounts_keyboard(
    method: str, presets: tuple[Decimal, ...], currency: str, stars_per_unit: Decimal
) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for preset in presets:
        label = format_money(preset, currency)
        if method == "stars":
            label += f" · {stars_for(preset, stars_per_unit)} ⭐"
        kb.button(
            text=label,
            callback_data=TopupCallback(action="amount", method=method, amount=f"{preset:f}"),
        )
    kb.button(text=_("✏️ Other amount"), callback_data=TopupCallback(action="other", method=method))
    kb.button(text=_("⬅️ Back"), callback_data=TopupCallback(action="start"))
    kb.adjust(2)
    return kb.as_markup()


def pay_keyboard(url: str, amount: Decimal, currency: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=pay_button(amount, currency), url=url)
    return kb.as_markup()
