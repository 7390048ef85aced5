"""The tests mirror the code: one folder per layer (core, handlers, providers, scheduler, db,
bot), e2e for the real app over HTTP, harness for shared builders, fakes for the outside world.
"""

import bot  # noqa: F401  (before any aiogram import, as in the bot: see bot.lean_aiogram)
