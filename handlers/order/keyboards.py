"""The order flow's keyboards (pure): catalogue pages, the link step, the confirmation."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from core.catalog_cache import CategoryView, ServiceView
from core.ordering import Quote
from handlers.menu import MenuCallback
from handlers.order.callbacks import CategoriesPage, CategoryPick, FlowCallback, ServicePick
from handlers.order.texts import service_button_text
from handlers.ui import PER_PAGE, clip, page_count, pager_row


def categories_keyboard(
    categories: Sequence[tuple[CategoryView, int]], page: int
) -> InlineKeyboardMarkup:
    pages = page_count(len(categories))
    page = min(max(page, 0), pages - 1)
    kb = InlineKeyboardBuilder()
    for category, count in categories[page * PER_PAGE : (page + 1) * PER_PAGE]:
        kb.button(
            text=f"{clip(category.name, 40)} ({count})",
            callback_data=CategoryPick(category_id=category.id, page=0),
        )
    kb.adjust(1)
    kb.row(*pager_row(page, pages, lambda p: CategoriesPage(page=p)))
    return kb.as_markup()


def services_keyboard(
    services: Sequence[ServiceView], category_id: int, page: int, currency: str
) -> InlineKeyboardMarkup:
    pages = page_count(len(services))
    page = min(max(page, 0), pages - 1)
    kb = InlineKeyboardBuilder()
    for service in services[page * PER_PAGE : (page + 1) * PER_PAGE]:
        kb.button(
            text=service_button_text(service, currency),
            callback_data=ServicePick(service_id=service.id),
        )
    kb.adjust(1)
    kb.row(*pager_row(page, pages, lambda p: CategoryPick(category_id=category_id, page=p)))
    kb.row(
        InlineKeyboardButton(text=_("◀ Categories"), callback_data=CategoriesPage(page=0).pack())
    )
    return kb.as_markup()


def link_keyboard(service: ServiceView, nonce: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(
        text=_("◀ Services"), callback_data=CategoryPick(category_id=service.category_id, page=0)
    )
    kb.button(text=_("✖ Cancel"), callback_data=FlowCallback(action="cancel", nonce=nonce))
    return kb.as_markup()


def cancel_keyboard(nonce: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("✖ Cancel"), callback_data=FlowCallback(action="cancel", nonce=nonce))
    return kb.as_markup()


def confirmation_keyboard(q: Quote, flow: str, confirm: str) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    if q.missing > 0:
        kb.button(
            text=_("🔄 Check again"), callback_data=FlowCallback(action="requote", nonce=confirm)
        )
        kb.button(text=_("💰 Balance"), callback_data=MenuCallback(action="balance"))
    else:
        kb.button(text=_("✅ Confirm"), callback_data=FlowCallback(action="confirm", nonce=confirm))
    kb.button(text=_("✖ Cancel"), callback_data=FlowCallback(action="cancel", nonce=flow))
    kb.adjust(2)
    return kb.as_markup()
