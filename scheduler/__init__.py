"""APScheduler setup and the jobs, each a small function over core."""

import bot  # noqa: F401  (before any aiogram import: see bot.lean_aiogram)
