"""The composition root. Importing it (any ``bot.*`` module) imports aiogram with its pydantic
validators built on first use, not at import (bot.lean_aiogram): every package that imports
aiogram imports ``bot`` first."""

from bot.lean_aiogram import install

install()
