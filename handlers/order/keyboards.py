"""The order flow's keyboards (pure): catalogue pages, the link step, the confirmation."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from core.catalog_cache import CategoryView, ServiceView
from core.ordering import Quote
from handlers.menu import MenuCallback
from handlers.order.callbacks import CategoriesPage, CategoryPick, FlowCallback, ServicePick
from handlers.order.texts import service_button_text
from handlers.ui import PER_PAGE, button, clip, keyboard, page_count, pager_row


def categories_keyboard(
    categories: Sequence[tuple[CategoryView, int]], page: int
) -> InlineKeyboardMarkup:
    pages = page_count(len(categories))
    page = min(max(page, 0), pages - 1)
    shown = categories[page * PER_PAGE : (page + 1) * PER_PAGE]
    return keyboard(
        *(
            [
                button(
                    f"{clip(category.name, 40)} ({count})",
                    CategoryPick(category_id=category.id, page=0),
                )
            ]
            for category, count in shown
        ),
        pager_row(page, pages, lambda p: CategoriesPage(page=p)),
    )


def services_keyboard(
    services: Sequence[ServiceView], category_id: int, page: int, currency: str
) -> InlineKeyboardMarkup:
    pages = page_count(len(services))
    page = min(max(page, 0), pages - 1)
    shown = services[page * PER_PAGE : (page + 1) * PER_PAGE]
    return keyboard(
        *(
            [button(service_button_text(service, currency), ServicePick(service_id=service.id))]
            for service in shown
        ),
        pager_row(page, pages, lambda p: CategoryPick(category_id=category_id, page=p)),
        [button(_("◀ Categories"), CategoriesPage(page=0))],
    )


def link_keyboard(service: ServiceView, nonce: str) -> InlineKeyboardMarkup:
    return keyboard(
        [
            button(_("◀ Services"), CategoryPick(category_id=service.category_id, page=0)),
            button(_("✖ Cancel"), FlowCallback(action="cancel", nonce=nonce)),
        ]
    )


def cancel_keyboard(nonce: str) -> InlineKeyboardMarkup:
    return keyboard([button(_("✖ Cancel"), FlowCallback(action="cancel", nonce=nonce))])


def confirmation_keyboard(q: Quote, flow: str, confirm: str) -> InlineKeyboardMarkup:
    cancel = button(_("✖ Cancel"), FlowCallback(action="cancel", nonce=flow))
    if q.missing > 0:
        return keyboard(
            [
                button(_("🔄 Check again"), FlowCallback(action="requote", nonce=confirm)),
                button(_("💰 Balance"), MenuCallback(action="balance")),
            ],
            [cancel],
        )
    return keyboard(
        [button(_("✅ Confirm"), FlowCallback(action="confirm", nonce=confirm)), cancel]
    )
