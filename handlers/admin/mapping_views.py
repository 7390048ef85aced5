"""How a service's mappings read in the admin console (/service, /services, /map)."""

from __future__ import annotations

from aiogram import html
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from core.catalog import CatalogError
from core.mappings import Mapping, cost_in_panel, mappings_of
from db.models import Service
from handlers.admin.common import amount
from handlers.ui import inline


def mapping_line(mapping: Mapping, currency: str) -> str:
    cost = cost_in_panel(mapping, currency)
    name, remote = inline(mapping.provider.name, 40), inline(mapping.provider_service_id, 30)
    line = f"{mapping.priority}. <b>{name}</b> #{remote}"
    if cost is not None:
        line += " · " + _("cost {cost} {currency}").format(
            cost=amount(cost), currency=html.quote(currency)
        )
    elif mapping.offered is not None:
        line += " · " + _("cost {cost} {theirs} (no rate)").format(
            cost=amount(mapping.offered.rate), theirs=html.quote(mapping.provider.currency or "")
        )
    if not mapping.provider.enabled:
        line += " · ⏸ " + _("provider off")
    if mapping.dropped:
        line += " · ❌ " + _("no longer offered")
    return line


def short_mappings(mappings: list[Mapping]) -> str:
    """One listing line's worth: fake#1 → backup#7."""
    if not mappings:
        return _("not mapped")
    return " → ".join(
        f"{inline(m.provider.name, 30)}#{inline(m.provider_service_id, 20)}" for m in mappings
    )


async def service_card(session: AsyncSession, service: Service, currency: str) -> list[str]:
    """/service SERVICE_ID: the service and its mappings in priority order."""
    state = _("on") if service.enabled else _("off")
    unit = _("per package") if service.rate_basis == "flat" else _("per 1000")
    lines = [
        f"<b>#{service.id}</b> {inline(service.name, 80)}",
        _("{state}, {mode} mode · type {type} · {min}–{max}").format(
            state=state,
            mode=html.quote(service.mode),
            type=html.quote(service.type),
            min=service.min,
            max=service.max,
        ),
        _("Price {price} {currency} {unit}").format(
            price=amount(service.price), currency=html.quote(currency), unit=unit
        ),
    ]
    if service.dripfeed:
        lines.append(_("Drip-feed: offered"))
    mappings = await mappings_of(session, service)
    lines += ["", _("<b>Mappings</b> (tried in this order)")]
    lines += [mapping_line(m, currency) for m in mappings] or [_("not mapped")]
    return lines


def mapping_error_text(error: CatalogError) -> str | None:
    """Texts for the mapping refusals (the catalogue's own texts cover the rest)."""
    d = error.details
    texts = {
        "backup_without_primary": _(
            "Service #{id} has no first mapping yet: /map {id} NAME PROVIDER_SERVICE_ID first."
        ),
        "already_primary": _("That is already the first mapping of service #{id}."),
        "backup_type": _(
            "A backup must take the same order fields: our type is {ours}, that provider "
            "service is {theirs}."
        ),
        "not_mapped_there": _("Service #{id} is not mapped to that provider service."),
        "fx_missing": _(
            "{provider} bills in {theirs}: set its rate first with "
            "<code>/providerset {provider} fx RATE</code>."
        ),
    }
    template = texts.get(error.code)
    if template is None:
        return None
    return template.format(
        id=d.get("service_id"),
        ours=inline(str(d.get("ours")), 40),
        theirs=inline(str(d.get("theirs")), 40),
        provider=inline(str(d.get("provider")), 64),
    )
