"""Service search: `/search WORDS`, or words typed where no step expects text (the category
list, the main menu). A result opens the service's card, the order flow's first step."""

from __future__ import annotations

from aiogram import F, Router, html
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from core.catalog_cache import CatalogCache, ServiceView
from core.search import MAX_QUERY, query_words, search_services
from handlers.order.callbacks import CategoriesPage, ServicePick
from handlers.order.texts import service_button_text
from handlers.ui import NOT_A_COMMAND, clip


def results_text(query: str, count: int) -> str:
    if not count:
        return _(
            "🔎 Nothing found for «{query}». Try other words, or browse the categories: /neworder"
        ).format(query=html.quote(clip(query, 60)))
    return _("🔎 Services for «{query}»: choose one to order.").format(
        query=html.quote(clip(query, 60))
    )


def search_usage() -> str:
    return _("Usage: /search WORDS, e.g. /search instagram followers")


def results_keyboard(services: list[ServiceView], currency: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for service in services:
        kb.button(
            text=f"{clip(service.category.name, 16)} · {service_button_text(service, currency)}",
            callback_data=ServicePick(service_id=service.id),
        )
    kb.adjust(1)
    kb.row(
        InlineKeyboardButton(text=_("◀ Categories"), callback_data=CategoriesPage(page=0).pack())
    )
    return kb.as_markup()


async def answer_search(
    message: Message, session: AsyncSession, catalog: CatalogCache, text: str, currency: str
) -> None:
    """The results for `text` (cut to MAX_QUERY), or how to search when it has no words."""
    query = text[:MAX_QUERY]
    if not query_words(query):
        await message.answer(search_usage())
        return
    services = search_services(await catalog.current(session), query)
    await message.answer(
        results_text(query, len(services)), reply_markup=results_keyboard(services, currency)
    )


async def search_command(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    catalog: CatalogCache,
    currency: str,
) -> None:
    await answer_search(message, session, catalog, command.args or "", currency)


async def words_typed(
    message: Message, session: AsyncSession, catalog: CatalogCache, currency: str
) -> None:
    await answer_search(message, session, catalog, message.text or "", currency)


def create_router() -> Router:
    """Before the fallback: text no flow is waiting for is a search."""
    router = Router(name="search")
    router.message.register(search_command, Command("search"))
    router.message.register(words_typed, StateFilter(None), F.text, NOT_A_COMMAND)
    return router
