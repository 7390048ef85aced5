"""Catalogue: /import, /services, /map, /setprice, /service."""

from __future__ import annotations

from aiogram import Router, html
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from core.catalog import (
    CatalogError,
    find_category,
    list_services,
    map_service,
    set_price,
    set_service_state,
)
from core.catalog_import import ImportResult, import_services
from db.models import Service
from handlers.admin.common import NO_PREVIEW, amount, answer_long, args_of, to_amount, to_int, usage
from handlers.admin.providers import catalog_error_text as provider_error_text
from handlers.admin.providers import failure_text
from handlers.ui import inline
from providers import ProviderError, ProviderRegistry

PER_PAGE = 25
SHOWN_TYPES = 10  # unsupported types named in the /import summary


class ServicesPage(CallbackData, prefix="adm_svc"):
    category_id: int  # 0: every category
    page: int


def import_usage() -> str:
    return usage(
        "/import NAME MARKUP_PERCENT",
        _("Example: <code>/import main 30</code> sells each service at the provider's rate + 30%."),
    )


def map_usage() -> str:
    return usage(
        "/map SERVICE_ID PROVIDER_NAME PROVIDER_SERVICE_ID",
        _("Example: <code>/map 12 main 4051</code>. The provider service must be imported first."),
    )


def setprice_usage() -> str:
    return usage(
        "/setprice SERVICE_ID PRICE_PER_1000 [force]",
        _("Package services: the price of one package. Add force to sell below cost."),
    )


def service_usage() -> str:
    return usage("/service SERVICE_ID on|off|manual|auto")


def error_text(error: CatalogError) -> str:
    d = error.details
    texts = {
        "bad_markup": _("The markup is a percentage between 0 and 10000, e.g. 30."),
        "unknown_service": _("No service #{id}. See /services.").format(id=d.get("service_id")),
        "unknown_provider_service": _(
            "{provider} has no imported service {service}. Run /import {provider} first, "
            "or check the id."
        ).format(
            provider=inline(str(d.get("provider")), 64), service=inline(str(d.get("service")), 64)
        ),
        "provider_service_dropped": _(
            "{provider} no longer offers service {service} (dropped at the last import)."
        ).format(
            provider=inline(str(d.get("provider")), 64), service=inline(str(d.get("service")), 64)
        ),
        "empty_catalogue": _(
            "{provider} answered with no services at all, so nothing was changed. If it really "
            "stopped selling, switch it off: /providerset {provider} off"
        ).format(provider=inline(str(d.get("provider")), 64)),
        "bad_price": _("The price must be a positive number."),
        "below_cost": _(
            "Refused: {price} is below the provider's cost {cost} {currency} per 1000. "
            "Add <code>force</code> to sell at a loss anyway."
        ).format(
            price=amount(d.get("price")),
            cost=amount(d.get("cost")),
            currency=html.quote(d.get("currency") or ""),
        ),
        "unsupported_type": _(
            "Customers cannot order type {type} from the chat, so it cannot be switched on."
        ).format(type=inline(str(d.get("type")), 40)),
        "not_mapped": _(
            "Service #{id} is not mapped to a provider: use /map first, then /service {id} auto."
        ).format(id=d.get("service_id")),
    }
    return texts.get(error.code) or provider_error_text(error)


def import_text(result: ImportResult, markup: str) -> list[str]:
    lines = [
        _("✅ Imported {provider} with a {markup}% markup: {fetched} services fetched.").format(
            provider=f"<b>{inline(result.provider, 64)}</b>", markup=markup, fetched=result.fetched
        ),
        _("Created: {created} · Updated: {updated} · Unchanged: {unchanged}").format(
            created=result.created, updated=result.updated, unchanged=result.unchanged
        ),
    ]
    if result.categories_created:
        lines.append(_("New categories: {count}").format(count=result.categories_created))
    if result.disabled_unsupported:
        common = result.unsupported_types.most_common()
        types = ", ".join(f"{inline(kind, 30)} ({count})" for kind, count in common[:SHOWN_TYPES])
        if len(common) > SHOWN_TYPES:  # a garbage catalogue must not outgrow one message
            types += ", …"
        lines.append(
            _(
                "Imported switched off: {count}, the chat cannot take orders for these types: "
                "{types}"
            ).format(count=result.disabled_unsupported, types=types)
        )
    if result.dropped:
        lines.append(
            _(
                "No longer offered by the provider: {count} (panel services switched off: "
                "{disabled})"
            ).format(count=result.dropped, disabled=result.disabled_dropped)
        )
    if result.returned:
        lines.append(
            _("Offered again: {count}; their services stay off until /service ID on.").format(
                count=result.returned
            )
        )
    if result.kept_prices:
        lines.append(_("Prices set by hand and kept: {count}").format(count=result.kept_prices))
    for item in result.below_cost[:20]:
        lines.append(
            _("💸 #{id} {name}: your price {price} is now below the provider's rate {rate}").format(
                id=item.service_id,
                name=inline(item.name, 50),
                price=amount(item.price),
                rate=amount(item.rate),
            )
        )
    lines.append(_("See them with /services; check mappings with /check."))
    return lines


def service_line(service: Service) -> str:
    unit = _("/pkg") if service.rate_basis == "flat" else _("/1k")
    if service.provider is not None and service.provider_service_id:
        mapping = f"{inline(service.provider.name, 30)}#{inline(service.provider_service_id, 20)}"
    else:
        mapping = _("not mapped")
    state = "✅" if service.enabled else "⏸"
    return (
        f"{state} <b>#{service.id}</b> {inline(service.name, 60)} — "
        f"{amount(service.price)}{unit} · "
        f"{service.min}–{service.max} · {html.quote(service.mode)} · {mapping}"
    )


async def services_page(
    session: AsyncSession, category_id: int, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    rows, total = await list_services(session, category_id or None, page=page, per_page=PER_PAGE)
    if not rows:
        return _("No services yet. Import them with /import NAME MARKUP_PERCENT."), None
    pages = (total + PER_PAGE - 1) // PER_PAGE
    lines = [
        _("<b>Services</b> ({total}) · page {page}/{pages}").format(
            total=total, page=page + 1, pages=pages
        )
    ]
    current = None
    for service in rows:
        if service.category_id != current:
            current = service.category_id
            lines += ["", f"📂 <b>{inline(service.category.name, 60)}</b> (#{current})"]
        lines.append(service_line(service))
    kb = InlineKeyboardBuilder()
    if page > 0:
        kb.button(text="◀", callback_data=ServicesPage(category_id=category_id, page=page - 1))
    if page + 1 < pages:
        kb.button(text="▶", callback_data=ServicesPage(category_id=category_id, page=page + 1))
    return "\n".join(lines), kb.as_markup() if page > 0 or page + 1 < pages else None


async def import_command(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    registry: ProviderRegistry,
    admin_ids: frozenset[int],
) -> None:
    args = args_of(command)
    markup = to_amount(args[1]) if len(args) == 2 else None
    if markup is None:
        await message.answer(import_usage())
        return
    assert message.from_user is not None
    try:
        result = await import_services(
            session,
            registry,
            args[0],
            markup,
            admin_id=message.from_user.id,
            admin_ids=admin_ids,
        )
    except CatalogError as error:
        await message.answer(error_text(error))
        return
    except ProviderError as exc:
        await message.answer(
            _("❌ Could not fetch the services of {name}: {reason}").format(
                name=inline(args[0], 64), reason=failure_text(exc, "")
            )
        )
        return
    await answer_long(message, import_text(result, amount(markup).removesuffix(".00")))


async def services_command(message: Message, command: CommandObject, session: AsyncSession) -> None:
    category_id = 0
    if command.args:
        category = await find_category(session, command.args)
        if category is None:
            await message.answer(
                _("No category matches {text}. Send /services to see them all.").format(
                    text=inline(command.args, 60)
                )
            )
            return
        category_id = category.id
    text, markup = await services_page(session, category_id, 0)
    await message.answer(text, reply_markup=markup, link_preview_options=NO_PREVIEW)


async def services_turn(
    query: CallbackQuery, callback_data: ServicesPage, session: AsyncSession
) -> None:
    text, markup = await services_page(
        session, callback_data.category_id, max(callback_data.page, 0)
    )
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=markup, link_preview_options=NO_PREVIEW)


async def map_command(message: Message, command: CommandObject, session: AsyncSession) -> None:
    args = args_of(command)
    service_id = to_int(args[0]) if len(args) == 3 else None
    if service_id is None:
        await message.answer(map_usage())
        return
    assert message.from_user is not None
    try:
        result = await map_service(
            session, service_id, args[1], args[2], admin_id=message.from_user.id
        )
    except CatalogError as error:
        await message.answer(error_text(error))
        return
    service, ps = result.service, result.provider_service
    lines = [
        _("✅ #{id} {name} now maps to {provider} service {ps_id} ({ps_name}).").format(
            id=service.id,
            name=inline(service.name, 60),
            provider=f"<b>{inline(args[1], 64)}</b>",
            ps_id=inline(ps.service_id, 30),
            ps_name=inline(ps.name, 60),
        ),
        _("Type {type}, min {min}, max {max}, price {price}, provider cost {cost}.").format(
            type=html.quote(service.type),
            min=service.min,
            max=service.max,
            price=amount(service.price),
            cost=amount(ps.rate),
        ),
    ]
    for code, details in result.warnings:
        if code == "below_cost":
            lines.append(
                _(
                    "💸 The price {price} is below the provider's cost {cost}: "
                    "/setprice {id} PRICE."
                ).format(
                    price=amount(details["price"]), cost=amount(details["cost"]), id=service.id
                )
            )
        elif code == "unsupported_type":
            lines.append(
                _("⚠️ Customers cannot order type {type} from the chat.").format(
                    type=inline(str(details["type"]), 40)
                )
            )
        elif code == "manual_mode":
            lines.append(
                _(
                    "ℹ️ The service is in manual mode: send /service {id} auto to send its "
                    "orders to the provider automatically."
                ).format(id=service.id)
            )
    await message.answer("\n".join(lines))


async def setprice_command(
    message: Message, command: CommandObject, session: AsyncSession, currency: str
) -> None:
    args = args_of(command)
    force = len(args) == 3 and args[2].lower() == "force"
    service_id = to_int(args[0]) if len(args) in (2, 3) else None
    price = to_amount(args[1]) if len(args) in (2, 3) else None
    if service_id is None or price is None or (len(args) == 3 and not force):
        await message.answer(setprice_usage())
        return
    assert message.from_user is not None
    try:
        result = await set_price(
            session,
            service_id,
            price,
            admin_id=message.from_user.id,
            force=force,
            currency=currency,
        )
    except CatalogError as error:
        await message.answer(error_text(error))
        return
    lines = [
        _("✅ #{id} {name}: price {old} → {new} {currency}.").format(
            id=result.service.id,
            name=inline(result.service.name, 60),
            old=amount(result.old),
            new=amount(price),
            currency=html.quote(currency),
        )
    ]
    if result.cost is not None:
        lines.append(
            _("Provider cost: {cost} {currency}.").format(
                cost=amount(result.cost), currency=html.quote(result.cost_currency or "")
            )
        )
    if result.below_cost:
        lines.append(_("⚠️ Selling below cost (forced)."))
    if result.cost_currency and result.cost_currency.upper() != currency.upper():
        lines.append(
            _("⚠️ The provider bills in {theirs}: compare the cost yourself.").format(
                theirs=html.quote(result.cost_currency)
            )
        )
    lines.append(_("Re-imports keep this price."))
    await message.answer("\n".join(lines))


async def service_command(message: Message, command: CommandObject, session: AsyncSession) -> None:
    args = args_of(command)
    service_id = to_int(args[0]) if len(args) == 2 else None
    if service_id is None or args[1] not in ("on", "off", "manual", "auto"):
        await message.answer(service_usage())
        return
    assert message.from_user is not None
    try:
        service, warnings = await set_service_state(
            session, service_id, args[1], admin_id=message.from_user.id
        )
    except CatalogError as error:
        await message.answer(error_text(error))
        return
    state = _("on") if service.enabled else _("off")
    lines = [
        _("✅ #{id} {name}: {state}, {mode} mode.").format(
            id=service.id,
            name=inline(service.name, 60),
            state=state,
            mode=html.quote(service.mode),
        )
    ]
    if "dropped_by_provider" in warnings:
        lines.append(_("⚠️ The provider no longer offers the mapped service: remap it."))
    if "auto_unmapped" in warnings:
        lines.append(_("⚠️ Not mapped: its orders will wait for review until you /map it."))
    await message.answer("\n".join(lines))


def create_router() -> Router:
    router = Router(name="admin.catalog")
    router.message.register(import_command, Command("import"))
    router.message.register(services_command, Command("services"))
    router.callback_query.register(services_turn, ServicesPage.filter())
    router.message.register(map_command, Command("map"))
    router.message.register(setprice_command, Command("setprice"))
    router.message.register(service_command, Command("service"))
    return router
