"""/massorder's buttons and steps: callback data (a nonce, never text) and states."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup


class MassOrderFlow(StatesGroup):
    lines = State()
    confirm = State()


class MassCallback(CallbackData, prefix="mass"):
    action: str  # confirm | cancel
    nonce: str
