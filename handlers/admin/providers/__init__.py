"""Providers: /addprovider, /providerset, /providers, /check, /errors (handlers in commands,
their texts in texts)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command

from handlers.admin.providers import commands


def create_router() -> Router:
    router = Router(name="admin.providers")
    router.message.register(commands.add_provider, Command("addprovider"))
    router.message.register(commands.provider_set, Command("providerset"))
    router.message.register(commands.list_providers, Command("providers"))
    router.message.register(commands.check, Command("check"))
    router.message.register(commands.errors, Command("errors"))
    return router
