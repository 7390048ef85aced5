"""Mappings: /map SERVICE_ID NAME PROVIDER_SERVICE_ID [PRIORITY], /unmap, the service card.

A service is sent to its first mapping whose provider is on and not backing off; a refusal
about the provider moves the order to the next one (core.failover).
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from core.catalog import CatalogError, MapResult, get_service
from core.mapping_admin import BackupResult, parse_priority, remove_mapping, set_mapping
from handlers.admin.catalog.texts import error_text, map_result_lines, map_warning_lines
from handlers.admin.common import args_of, to_int, usage
from handlers.admin.mapping_views import service_card
from handlers.ui import inline


def map_usage() -> str:
    return usage(
        "/map SERVICE_ID NAME PROVIDER_SERVICE_ID [PRIORITY]",
        _("Example: <code>/map 12 main 4051</code>. The provider service must be imported first."),
        _(
            "Without a priority (or 1) the service itself is (re)mapped; 2, 3 ... add backups "
            "tried in that order when a provider cannot take an order."
        ),
        _("Remove one with /unmap SERVICE_ID NAME PROVIDER_SERVICE_ID."),
    )


def unmap_usage() -> str:
    return usage(
        "/unmap SERVICE_ID NAME PROVIDER_SERVICE_ID",
        _("The next mapping by priority moves up when the first one is removed."),
    )


async def map_command(
    message: Message, command: CommandObject, session: AsyncSession, currency: str
) -> None:
    args = args_of(command)
    service_id = to_int(args[0]) if len(args) in (3, 4) else None
    priority = parse_priority(args[3] if len(args) == 4 else None)
    if service_id is None or priority is None:
        await message.answer(map_usage())
        return
    assert message.from_user is not None
    try:
        result = await set_mapping(
            session,
            service_id,
            args[1],
            args[2],
            priority,
            admin_id=message.from_user.id,
            currency=currency,
        )
    except CatalogError as error:
        await message.answer(error_text(error))
        return
    if isinstance(result, MapResult):
        lines = map_result_lines(result, args[1])
    else:
        lines = _backup_lines(result, args[1])
        lines += map_warning_lines(result.warnings, service_id)
    lines += [""] + await service_card(session, await get_service(session, service_id), currency)
    await message.answer("\n".join(lines))


def _backup_lines(result: BackupResult, provider: str) -> list[str]:
    ps = result.provider_service
    return [
        _("✅ #{id} {name}: {provider} service {ps_id} ({ps_name}) is mapping {priority}.").format(
            id=result.service.id,
            name=inline(result.service.name, 60),
            provider=f"<b>{inline(provider, 64)}</b>",
            ps_id=inline(ps.service_id, 30),
            ps_name=inline(ps.name, 60),
            priority=result.priority,
        )
    ]


async def unmap_command(
    message: Message, command: CommandObject, session: AsyncSession, currency: str
) -> None:
    args = args_of(command)
    service_id = to_int(args[0]) if len(args) == 3 else None
    if service_id is None:
        await message.answer(unmap_usage())
        return
    assert message.from_user is not None
    try:
        service, left = await remove_mapping(
            session, service_id, args[1], args[2], admin_id=message.from_user.id
        )
    except CatalogError as error:
        await message.answer(error_text(error))
        return
    lines = [_("✅ #{id}: mapping removed.").format(id=service.id)]
    if not left and service.mode == "auto":
        lines.append(_("⚠️ Not mapped: its orders will wait for review until you /map it."))
    lines += [""] + await service_card(session, service, currency)
    await message.answer("\n".join(lines))


def create_router() -> Router:
    router = Router(name="admin.mappings")
    router.message.register(map_command, Command("map"))
    router.message.register(unmap_command, Command("unmap"))
    return router
