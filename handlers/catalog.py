"""The catalogue a customer browses (/neworder → categories → services) and the screens of
the order flow (service card, prompts, confirmation) as pure functions.

Browsing only reads; picking a service starts the order flow (handlers.order_flow).
"""

from __future__ import annotations

from aiogram import Bot, F, Router, html
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from core.links import accepts_username
from core.money import format_money
from core.ordering import OrderDraft, Quote, category_services, orderable_categories
from core.pricing import input_kind, lines_field
from db.models import Category, Service
from handlers.menu import MenuCallback
from handlers.order_views import expected_link_text, price_text, quantity_rule_text
from handlers.ui import PER_PAGE, clip, money_text, page_count, pager_row, show


class CategoriesPage(CallbackData, prefix="oc"):
    page: int


class CategoryPick(CallbackData, prefix="ocs"):
    category_id: int
    page: int


class ServicePick(CallbackData, prefix="osv"):
    service_id: int


class FlowCallback(CallbackData, prefix="of"):
    """Buttons of one order flow; `nonce` ties them to it (a stale or forged one is refused)."""

    action: str  # confirm | cancel | requote
    nonce: str


# --- texts and keyboards (pure) ---------------------------------------------------------


def categories_text() -> str:
    return _("🛒 <b>New order</b>\nChoose a category:")


def no_services_text() -> str:
    return _("No services are available right now. Please come back later.")


def categories_keyboard(categories: list[tuple[Category, int]], page: int) -> InlineKeyboardMarkup:
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


def service_button_text(service: Service, currency: str) -> str:
    price = format_money(service.price)
    if service.rate_basis == "flat" or input_kind(service.type) == "package":
        return _("{name} · {price} {currency}").format(
            name=clip(service.name, 40), price=price, currency=currency
        )
    return _("{name} · {price} {currency}/1000").format(
        name=clip(service.name, 40), price=price, currency=currency
    )


def services_text(category: Category) -> str:
    return _("<b>{category}</b>\nChoose a service (price per 1000):").format(
        category=html.quote(category.name)
    )


def services_keyboard(
    services: list[Service], category_id: int, page: int, currency: str
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


def yes_no(flag: bool) -> str:
    return _("✅ yes") if flag else _("✖ no")


def service_card(service: Service, currency: str) -> str:
    """Everything a customer needs before ordering, and what to send next."""
    platform = service.category.platform
    kind = input_kind(service.type)
    lines = [
        f"<b>{html.quote(service.name)}</b>",
        _("Service ID: {id}").format(id=service.id),
        _("Price: {price}").format(price=price_text(service, currency)),
    ]
    if kind == "package":
        lines.append(_("One package per order."))
    else:
        lines.append(
            _("Min / max: {min} / {max}").format(min=service.min, max=service.max)
            + (_(" (step {step})").format(step=service.step) if service.step > 1 else "")
        )
    lines.append(
        _("Refill: {refill} · Cancel: {cancel}").format(
            refill=yes_no(service.refill), cancel=yes_no(service.cancel)
        )
    )
    if service.description:
        lines += ["", html.quote(clip(service.description, 1500))]
    expected = expected_link_text(platform, accepts_username(service.name, platform))
    lines += ["", _("👉 Send {expected}.").format(expected=expected)]
    if kind == "lines":
        lines.append(_("Next you will send the list, one per line."))
    return "\n".join(lines)


def link_keyboard(service: Service, nonce: str) -> InlineKeyboardMarkup:
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


def quantity_prompt(service: Service) -> str:
    return _("How many? Send a number {rule}.").format(
        rule=quantity_rule_text(service.min, service.max, service.step)
    )


def lines_prompt(service: Service) -> str:
    if lines_field(service.type) == "usernames":
        return _("Send the usernames, one per line ({min} to {max} lines).").format(
            min=service.min, max=service.max
        )
    return _("Send the comments, one per line ({min} to {max} lines).").format(
        min=service.min, max=service.max
    )


def confirmation_text(q: Quote, draft: OrderDraft, currency: str) -> str:
    lines = [
        _("<b>Please check your order</b>"),
        _("Service: #{id} {name}").format(id=q.service.id, name=html.quote(q.service.name)),
        _("Link: {link}").format(link=html.quote(clip(draft.link, 300))),
        _("Quantity: {quantity}").format(quantity=q.quantity),
    ]
    for items in draft.extra.values():
        preview = "\n".join(f"• {html.quote(clip(item, 80))}" for item in items[:5])
        more = len(items) - 5
        lines.append(preview + (_("\n…and {count} more").format(count=more) if more > 0 else ""))
    lines += [
        _("Charge: {amount}").format(amount=money_text(q.charge, currency)),
        _("Balance now: {amount}").format(amount=money_text(q.balance, currency)),
    ]
    if q.missing > 0:
        lines += [
            "",
            _("⚠️ Not enough balance: {missing} missing. Top up, then press 🔄 Check again.").format(
                missing=money_text(q.missing, currency)
            ),
        ]
    else:
        lines.append(
            _("Balance after: {amount}").format(amount=money_text(q.balance_after, currency))
        )
    return "\n".join(lines)


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


# --- handlers ---------------------------------------------------------------------------


async def send_categories(message: Message, session: AsyncSession) -> None:
    categories = await orderable_categories(session)
    if not categories:
        await message.answer(no_services_text())
        return
    await message.answer(categories_text(), reply_markup=categories_keyboard(categories, 0))


def create_router() -> Router:
    router = Router(name="catalog")

    @router.message(Command("neworder"))
    async def new_order(message: Message, session: AsyncSession, state: FSMContext) -> None:
        await state.clear()
        await send_categories(message, session)

    @router.callback_query(MenuCallback.filter(F.action == "new_order"))
    async def new_order_button(
        query: CallbackQuery, session: AsyncSession, state: FSMContext
    ) -> None:
        await state.clear()
        await query.answer()
        if isinstance(query.message, Message):
            await send_categories(query.message, session)

    @router.callback_query(CategoriesPage.filter())
    async def categories_page(
        query: CallbackQuery, callback_data: CategoriesPage, session: AsyncSession, bot: Bot
    ) -> None:
        categories = await orderable_categories(session)
        await query.answer()
        if not categories:
            await show(query, bot, no_services_text())
            return
        await show(
            query, bot, categories_text(), categories_keyboard(categories, callback_data.page)
        )

    @router.callback_query(CategoryPick.filter())
    async def category_page(
        query: CallbackQuery,
        callback_data: CategoryPick,
        session: AsyncSession,
        bot: Bot,
        currency: str,
        state: FSMContext,
    ) -> None:
        services = await category_services(session, callback_data.category_id)
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

    return router
