"""What the catalogue commands answer: usages, refusals, the /import summary and the
/services pages (with their callback data)."""

from __future__ import annotations

from typing import Any

from aiogram import html
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from core.catalog import CatalogError, MapResult, list_services
from core.catalog_import import ImportResult
from core.mappings import Mapping, mappings_for
from db.models import Service
from handlers.admin.common import amount, usage
from handlers.admin.mapping_views import mapping_error_text, short_mappings
from handlers.admin.providers.texts import account_error_text
from handlers.ui import ButtonId, inline

PER_PAGE = 25


SHOWN_TYPES = 10  # unsupported types named in the /import summary


class ServicesPage(CallbackData, prefix="adm_svc"):
    category_id: ButtonId  # 0: every category
    page: ButtonId


def import_usage() -> str:
    return usage(
        "/import NAME MARKUP_PERCENT",
        _("Example: <code>/import main 30</code> sells each service at the provider's rate + 30%."),
    )


def setprice_usage() -> str:
    return usage(
        "/setprice SERVICE_ID PRICE_PER_1000 [force]",
        _("Package services: the price of one package. Add force to sell below cost."),
    )


def service_usage() -> str:
    return usage(
        "/service SERVICE_ID on|off|manual|auto",
        _("/service SERVICE_ID alone shows the service and its mappings."),
    )


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
            "Refused: {price} is below the provider's cost {cost} {currency} {per}. "
            "Add <code>force</code> to sell at a loss anyway."
        ).format(
            price=amount(d.get("price")),
            cost=amount(d.get("cost")),
            currency=html.quote(d.get("currency") or ""),
            per=_("per package") if d.get("per") == "package" else _("per 1000"),
        ),
        "unsupported_type": _(
            "Customers cannot order type {type} from the chat, so it cannot be switched on."
        ).format(type=inline(str(d.get("type")), 40)),
        "not_mapped": _(
            "Service #{id} is not mapped to a provider: use /map first, then /service {id} auto."
        ).format(id=d.get("service_id")),
    }
    return texts.get(error.code) or mapping_error_text(error) or account_error_text(error)


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
    if result.skipped:
        shown = ", ".join(
            f"{inline(service_id, 24)} ({inline(reason, 60)})"
            for service_id, reason in result.skipped[:SHOWN_TYPES]
        )
        if len(result.skipped) > SHOWN_TYPES:
            shown += ", …"
        lines.append(
            _("⚠️ Skipped, they do not fit the panel: {count}: {rows}").format(
                count=len(result.skipped), rows=shown
            )
        )
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


def fx_missing_line(details: dict[str, Any]) -> str:
    """The fx_missing warning of /map (first mapping or backup)."""
    return _(
        "⚠️ {provider} bills in {theirs} and has no rate: its cost cannot be "
        "compared (<code>/providerset {provider} fx RATE</code>)."
    ).format(
        provider=inline(str(details["provider"]), 64),
        theirs=html.quote(str(details["theirs"] or "")),
    )


def map_result_lines(result: MapResult, provider: str) -> list[str]:
    """What /map answers when the service itself is (re)mapped."""
    service, ps = result.service, result.provider_service
    lines = [
        _("✅ #{id} {name} now maps to {provider} service {ps_id} ({ps_name}).").format(
            id=service.id,
            name=inline(service.name, 60),
            provider=f"<b>{inline(provider, 64)}</b>",
            ps_id=inline(ps.service_id, 30),
            ps_name=inline(ps.name, 60),
        ),
        _("Type {type}, min {min}, max {max}, price {price}.").format(
            type=html.quote(service.type),
            min=service.min,
            max=service.max,
            price=amount(service.price),
        ),
    ]
    return lines + map_warning_lines(result.warnings, service.id)


def map_warning_lines(warnings: list[tuple[str, dict[str, Any]]], service_id: int) -> list[str]:
    """The warnings of /map, for the first mapping and for a backup alike."""
    words = {
        "below_cost": lambda d: _(
            "💸 The price {price} is below the provider's cost {cost}: /setprice {id} PRICE."
        ).format(price=amount(d["price"]), cost=amount(d["cost"]), id=service_id),
        "fx_missing": fx_missing_line,
        "unsupported_type": lambda d: _(
            "⚠️ Customers cannot order type {type} from the chat."
        ).format(type=inline(str(d["type"]), 40)),
        "manual_mode": lambda d: _(
            "ℹ️ The service is in manual mode: send /service {id} auto to send its "
            "orders to the provider automatically."
        ).format(id=service_id),
        "range": lambda d: _(
            "⚠️ This provider takes {min}–{max}: orders outside that move on to the next mapping."
        ).format(min=d["min"], max=d["max"]),
        "no_dripfeed": lambda d: _("⚠️ This provider service has no drip-feed."),
    }
    return [words[code](details) for code, details in warnings if code in words]


def service_line(service: Service, mappings: list[Mapping]) -> str:
    unit = _("/pkg") if service.rate_basis == "flat" else _("/1k")
    mapping = short_mappings(mappings)
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
    mapped = await mappings_for(session, rows)
    for service in rows:
        if service.category_id != current:
            current = service.category_id
            lines += ["", f"📂 <b>{inline(service.category.name, 60)}</b> (#{current})"]
        lines.append(service_line(service, mapped[service.id]))
    kb = InlineKeyboardBuilder()
    if page > 0:
        kb.button(text="◀", callback_data=ServicesPage(category_id=category_id, page=page - 1))
    if page + 1 < pages:
        kb.button(text="▶", callback_data=ServicesPage(category_id=category_id, page=page + 1))
    return "\n".join(lines), kb.as_markup() if page > 0 or page + 1 < pages else None
