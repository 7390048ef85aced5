"""Browsing the catalogue: /neworder → categories → services. Only reads; picking a service
starts the flow (handlers.order.steps)."""

from __future__ import annotations

from aiogram import Bot
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from core.catalog_cache import CatalogCache
from handlers.order.callbacks import CategoriesPage, CategoryPick
from handlers.order.keyboards import categories_keyboard, services_keyboard
from handlers.order.texts import categories_text, no_services_text, services_text
from handlers.ui import answers_itself, show


async def send_categories(message: Message, session: AsyncSession, catalog: CatalogCache) -> None:
    categories = await catalog.categories(session)
    if not categories:
        await message.answer(no_services_text())
        return
    await message.answer(categories_text(), reply_markup=categories_keyboard(categories, 0))


async def new_order(
    message: Message, session: AsyncSession, catalog: CatalogCache, state: FSMContext
) -> None:
    await state.clear()
    await send_categories(message, session, catalog)


async def new_order_button(
    query: CallbackQuery, session: AsyncSession, catalog: CatalogCache, state: FSMContext
) -> None:
    await state.clear()
    if isinstance(query.message, Message):
        await send_categories(query.message, session, catalog)


async def categories_page(
    query: CallbackQuery,
    callback_data: CategoriesPage,
    session: AsyncSession,
    catalog: CatalogCache,
    bot: Bot,
) -> None:
    categories = await catalog.categories(session)
    if not categories:
        await show(query, bot, no_services_text())
        return
    await show(query, bot, categories_text(), categories_keyboard(categories, callback_data.page))


@answers_itself
async def category_page(
    query: CallbackQuery,
    callback_data: CategoryPick,
    session: AsyncSession,
    catalog: CatalogCache,
    bot: Bot,
    currency: str,
    state: FSMContext,
) -> None:
    services = await catalog.category_services(session, callback_data.category_id)
    if not services:
        await query.answer(_("This category is not available."), show_alert=True)
        return
    if (await state.get_state() or "").startswith("OrderFlow:"):
        await state.clear()  # back to the list: the service picked before is dropped
    await query.answer()
    await show(
        query,
        bot,
        services_text(services[0].category),
        services_keyboard(services, callback_data.category_id, callback_data.page, currency),
    )
