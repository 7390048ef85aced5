"""Catalogue: /import, /services, /setprice, /service (/map and /unmap: admin.mappings)."""

from __future__ import annotations

from aiogram import html
from aiogram.filters import CommandObject
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from core.catalog import (
    CatalogError,
    find_category,
    get_service,
    set_price,
    set_service_state,
)
from core.catalog_import import import_services
from handlers.admin.catalog.texts import (
    ServicesPage,
    error_text,
    import_text,
    import_usage,
    service_usage,
    services_page,
    setprice_usage,
)
from handlers.admin.common import NO_PREVIEW, amount, answer_long, args_of, to_amount, to_int
from handlers.admin.mapping_views import service_card
from handlers.admin.providers.texts import failure_text
from handlers.ui import inline
from providers import ProviderError, ProviderRegistry


async def import_command(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    registry: ProviderRegistry,
    admin_ids: frozenset[int],
    currency: str,
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
            currency=currency,
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
        per = _("per package") if result.per == "package" else _("per 1000")
        lines.append(
            _("Provider cost: {cost} {currency} {per}.").format(
                cost=amount(result.cost), currency=html.quote(currency), per=per
            )
        )
    if result.below_cost:
        lines.append(_("⚠️ Selling below cost (forced)."))
    if result.fx_missing:
        name = inline(result.service.provider.name if result.service.provider else "", 64)
        lines.append(
            _(
                "⚠️ The provider bills in another currency and has no rate: set it with "
                "<code>/providerset {name} fx RATE</code> to compare the cost."
            ).format(name=name)
        )
    lines.append(_("Re-imports keep this price."))
    await message.answer("\n".join(lines))


async def service_command(
    message: Message, command: CommandObject, session: AsyncSession, currency: str
) -> None:
    args = args_of(command)
    if len(args) == 1 and to_int(args[0]) is not None:  # the card with its mappings
        try:
            service = await get_service(session, to_int(args[0]) or 0)
        except CatalogError as error:
            await message.answer(error_text(error))
            return
        await message.answer("\n".join(await service_card(session, service, currency)))
        return
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
