"""Catalogue: /import, /services, /setprice, /service (handlers in commands, their
texts and the /services pages in texts)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command

from handlers.admin.catalog import commands
from handlers.admin.catalog.texts import ServicesPage


def create_router() -> Router:
    router = Router(name="admin.catalog")
    router.message.register(commands.import_command, Command("import"))
    router.message.register(commands.services_command, Command("services"))
    router.callback_query.register(commands.services_turn, ServicesPage.filter())
    router.message.register(commands.setprice_command, Command("setprice"))
    router.message.register(commands.service_command, Command("service"))
    return router
