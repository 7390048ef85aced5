"""The panel's catalogue as admins shape it: mapping, prices, service switches, listings.

Import lives in core.catalog_import, provider accounts in core.provider_accounts. Every
change is audited (core.audit); a price set by hand is recorded as a
"service.setprice" audit row, which is also how a re-import knows to leave that price alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core import fx
from core.audit import audit
from core.errors import Refusal
from core.pricing import input_kind, price_unit
from core.provider_accounts import find_provider
from db.engine import write_tx
from db.models import AdminAuditLog, Category, Provider, ProviderService, Service, ServiceMapping

SETPRICE_ACTION = "service.setprice"


class CatalogError(Refusal):
    """A refused catalogue change; `code` picks the message the admin sees."""


async def provider_by_name(session: AsyncSession, name: str) -> Provider:
    provider = await find_provider(session, name)
    if provider is None:
        raise CatalogError("unknown_provider", name=name)
    return provider


# --- services -------------------------------------------------------------------------------


async def manually_priced(session: AsyncSession, service_ids: list[int] | None = None) -> set[int]:
    """Services whose price an admin set by hand (re-imports keep those prices)."""
    targets = await session.scalars(
        select(func.distinct(AdminAuditLog.target)).where(AdminAuditLog.action == SETPRICE_ACTION)
    )
    ids = {int(t.split(":", 1)[1]) for t in targets if t and t.startswith("service:")}
    return ids if service_ids is None else ids & set(service_ids)


async def get_service(session: AsyncSession, service_id: int) -> Service:
    service = await session.scalar(
        select(Service)
        .where(Service.id == service_id)
        .options(selectinload(Service.provider), selectinload(Service.category))
        .execution_options(populate_existing=True)
    )
    if service is None:
        raise CatalogError("unknown_service", service_id=service_id)
    return service


async def provider_service_of(session: AsyncSession, service: Service) -> ProviderService | None:
    """The imported provider row a panel service is mapped to, if any."""
    if service.provider_id is None or not service.provider_service_id:
        return None
    return await session.scalar(
        select(ProviderService).where(
            ProviderService.provider_id == service.provider_id,
            ProviderService.service_id == service.provider_service_id,
        )
    )


def service_snapshot(service: Service) -> dict[str, Any]:
    return {
        "price": str(service.price),
        "min": service.min,
        "max": service.max,
        "type": service.type,
        "mode": service.mode,
        "enabled": service.enabled,
        "provider_id": service.provider_id,
        "provider_service_id": service.provider_service_id,
        "refill": service.refill,
        "cancel": service.cancel,
    }


@dataclass
class MapResult:
    service: Service
    provider_service: ProviderService
    warnings: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


async def map_service(
    session: AsyncSession,
    service_id: int,
    provider_name: str,
    provider_service_id: str,
    *,
    admin_id: int,
    currency: str,
) -> MapResult:
    """(Re)map a panel service onto an imported provider service.

    The provider's type, rate basis and refill/cancel/drip-feed flags are copied (orders are
    sent with the provider's fields); min/max are narrowed into the provider's range.
    Warnings: price below the provider's cost, a type the chat cannot collect, manual mode.
    """
    async with write_tx(session):
        service = await get_service(session, service_id)
        provider = await provider_by_name(session, provider_name)
        ps = await offered_service(session, provider, provider_service_id.strip())
        before = service_snapshot(service)
        service.provider_id, service.provider_service_id = provider.id, ps.service_id
        service.type, service.rate_basis = ps.type, ps.rate_basis
        service.min, service.max = narrow(service.min, service.max, ps.min, ps.max)
        service.refill, service.cancel = bool(ps.refill), bool(ps.cancel)
        service.dripfeed = bool(ps.dripfeed)
        service.provider = provider
        await session.execute(  # the new first mapping is no longer a backup too
            delete(ServiceMapping).where(
                ServiceMapping.service_id == service.id,
                ServiceMapping.provider_id == provider.id,
                ServiceMapping.provider_service_id == ps.service_id,
            )
        )
        result = MapResult(service, ps, cost_warnings(service, ps, provider, currency))
        if input_kind(ps.type) is None:
            result.warnings.append(("unsupported_type", {"type": ps.type}))
        if service.mode == "manual":
            result.warnings.append(("manual_mode", {}))
        audit(
            session,
            admin_id,
            "service.map",
            f"service:{service.id}",
            before,
            service_snapshot(service),
        )
    return result


async def offered_service(
    session: AsyncSession, provider: Provider, provider_service_id: str
) -> ProviderService:
    """The imported provider service a mapping may point at: known and still offered."""
    ps = await session.scalar(
        select(ProviderService).where(
            ProviderService.provider_id == provider.id,
            ProviderService.service_id == provider_service_id,
        )
    )
    if ps is None:
        raise CatalogError(
            "unknown_provider_service", provider=provider.name, service=provider_service_id
        )
    if not ps.available:
        raise CatalogError(
            "provider_service_dropped", provider=provider.name, service=ps.service_id
        )
    return ps


def cost_warnings(
    service: Service, ps: ProviderService, provider: Provider, currency: str
) -> list[tuple[str, dict[str, Any]]]:
    """fx_missing (the provider's cost cannot be known) or below_cost, for /map."""
    cost = mapped_cost(service, ps, provider, currency)
    if cost is None:
        return [("fx_missing", {"provider": provider.name, "theirs": provider.currency})]
    if service.price < cost:
        return [("below_cost", {"price": service.price, "cost": cost, "currency": currency})]
    return []


def narrow(our_min: int, our_max: int, their_min: int, their_max: int) -> tuple[int, int]:
    """Our min/max clamped into the provider's; the provider's own if nothing overlaps."""
    low = max(our_min, their_min)
    high = min(our_max, their_max) if their_max else our_max
    if low > high:
        return their_min, their_max
    return low, high


def mapped_cost(
    service: Service, ps: ProviderService, provider: Provider, currency: str
) -> Decimal | None:
    """What the provider charges for one unit of our price (per 1000, or one package), in
    the panel's currency; None while the provider's conversion rate is missing."""
    rate = fx.rate_of(provider, currency)
    return None if rate is None else fx.unit_cost(ps.rate, ps.rate_basis, service, rate)


@dataclass
class PriceResult:
    service: Service
    old: Decimal
    cost: Decimal | None  # the provider's cost per our unit, in the panel's currency
    per: str  # "1000" or "package"
    fx_missing: bool  # the provider bills in another currency and has no rate: not compared
    below_cost: bool


async def set_price(
    session: AsyncSession,
    service_id: int,
    price: Decimal,
    *,
    admin_id: int,
    currency: str,
    force: bool = False,
) -> PriceResult:
    """Set the price per 1000 (flat for packages); below the provider's cost only with force.

    The cost is the mapped provider service's rate converted into the panel's currency and
    onto our price's basis (per 1000 or per package), so the two are compared like for like.
    """
    if price <= 0:
        raise CatalogError("bad_price")
    async with write_tx(session):
        service = await get_service(session, service_id)
        ps = await provider_service_of(session, service)
        cost: Decimal | None = None
        fx_missing = False
        if ps is not None and service.provider is not None:
            cost = mapped_cost(service, ps, service.provider, currency)
            fx_missing = cost is None
        per = price_unit(service.rate_basis)
        below = cost is not None and price < cost
        if below and not force:
            raise CatalogError("below_cost", price=price, cost=cost, currency=currency, per=per)
        old = service.price
        service.price = price
        audit(
            session,
            admin_id,
            SETPRICE_ACTION,
            f"service:{service.id}",
            {"price": str(old)},
            {"price": str(price), "forced": bool(below)},
        )
    return PriceResult(service, old, cost, per, fx_missing, below)


SERVICE_ACTIONS = ("on", "off", "manual", "auto")


async def set_service_state(
    session: AsyncSession, service_id: int, action: str, *, admin_id: int
) -> tuple[Service, list[str]]:
    """/service ID on|off|manual|auto; returns the service and warning codes."""
    if action not in SERVICE_ACTIONS:
        raise CatalogError("bad_service_action", action=action)
    warnings: list[str] = []
    async with write_tx(session):
        service = await get_service(session, service_id)
        before = service_snapshot(service)
        mapped = service.provider_id is not None and bool(service.provider_service_id)
        if action == "on":
            if input_kind(service.type) is None:
                raise CatalogError("unsupported_type", type=service.type)
            ps = await provider_service_of(session, service)
            if ps is not None and not ps.available:
                warnings.append("dropped_by_provider")
            if service.mode == "auto" and not mapped:
                warnings.append("auto_unmapped")
            service.enabled = True
        elif action == "off":
            service.enabled = False
        elif action == "auto":
            if not mapped:
                raise CatalogError("not_mapped", service_id=service.id)
            service.mode = "auto"
        else:
            service.mode = "manual"
        audit(
            session,
            admin_id,
            f"service.{action}",
            f"service:{service.id}",
            before,
            service_snapshot(service),
        )
    return service, warnings


async def find_category(session: AsyncSession, text: str) -> Category | None:
    """By id, exact name, or a unique part of the name (case-insensitive)."""
    text = text.strip()
    if text.isdigit():
        found = await session.get(Category, int(text))
        if found is not None:
            return found
    rows = list(
        await session.scalars(
            select(Category).where(func.lower(Category.name).contains(text.lower()))
        )
    )
    exact = [c for c in rows if c.name.lower() == text.lower()]
    if exact:
        return exact[0]
    return rows[0] if len(rows) == 1 else None


async def list_services(
    session: AsyncSession, category_id: int | None, *, page: int, per_page: int
) -> tuple[list[Service], int]:
    """Panel services (optionally of one category), by category then id, with providers."""
    where = [] if category_id is None else [Service.category_id == category_id]
    total = await session.scalar(select(func.count()).select_from(Service).where(*where)) or 0
    rows = await session.scalars(
        select(Service)
        .where(*where)
        .options(selectinload(Service.provider), selectinload(Service.category))
        .order_by(Service.category_id, Service.id)
        .offset(page * per_page)
        .limit(per_page)
    )
    return list(rows), total
