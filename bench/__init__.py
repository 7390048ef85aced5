"""Benchmarks (``python -m bench``), measured against a bot process as it runs in production."""

import bot  # noqa: F401  (before any aiogram import, as in the bot: see bot.lean_aiogram)
