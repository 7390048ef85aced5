"""The panel's catalogue as admins shape it: providers, mapping, prices, service switches.

Import lives in core.catalog_import. Every change is audited (core.admin_actions.audit); a
price set by hand is recorded as a "service.setprice" audit row, which is also how a
re-import knows to leave that price alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.admin_actions import audit
from core.pricing import input_kind
from db.engine import write_tx
from db.models import AdminAuditLog, Category, Provider, ProviderService, Service
from db.types import utcnow
from providers import Balance, ProviderError, ProviderRegistry, is_demo_url, mask_secret

NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
SETPRICE_ACTION = "service.setprice"


class CatalogError(Exception):
    """A refused catalogue change; `code` picks the message the admin sees."""

    def __init__(self, code: str, **details: Any) -> None:
        super().__init__(code)
        self.code = code
        self.details = details


def valid_api_url(api_url: str) -> bool:
    if is_demo_url(api_url):
        return True
    try:
        url = httpx.URL(api_url)
    except (httpx.InvalidURL, TypeError):
        return False
    return url.scheme in ("http", "https") and bool(url.host)


async def provider_by_name(session: AsyncSession, name: str) -> Provider:
    provider = await session.scalar(
        select(Provider).where(func.lower(Provider.name) == name.strip().lower())
    )
    if provider is None:
        raise CatalogError("unknown_provider", name=name)
    return provider


def provider_snapshot(provider: Provider) -> dict[str, Any]:
    return {
        "name": provider.name,
        "api_url": provider.api_url,
        "api_key": mask_secret(provider.api_key),
        "enabled": provider.enabled,
        "threshold": str(provider.low_balance_threshold),
    }


# --- providers ------------------------------------------------------------------------------


@dataclass
class ConnectResult:
    provider: Provider | None  # None: not saved (a new provider whose check failed)
    created: bool
    balance: Balance | None
    error: ProviderError | None


async def connect_provider(
    session: AsyncSession,
    registry: ProviderRegistry,
    name: str,
    api_url: str,
    api_key: str,
    *,
    admin_id: int,
    threshold: Decimal | None = None,
) -> ConnectResult:
    """Check the key with a balance call first; save (or update) the provider only if it works.

    A failing check saves nothing: a new provider is not created, an existing one keeps its
    current URL and key (so a typo cannot break a working provider).
    """
    if not NAME_RE.match(name):
        raise CatalogError("bad_name", name=name)
    if not valid_api_url(api_url):
        raise CatalogError("bad_url", url=api_url)
    if threshold is not None and threshold < 0:
        raise CatalogError("bad_threshold")
    if session.in_transaction():
        await session.commit()  # no transaction held over the provider call
    client = registry.make_client(api_url, api_key, name)
    try:
        balance = await client.balance()
    except ProviderError as exc:
        existing = await session.scalar(
            select(Provider).where(func.lower(Provider.name) == name.lower())
        )
        return ConnectResult(existing, False, None, exc)
    async with write_tx(session):
        provider = await session.scalar(
            select(Provider).where(func.lower(Provider.name) == name.lower())
        )
        created = provider is None
        before = None if provider is None else provider_snapshot(provider)
        if provider is None:
            provider = Provider(name=name, api_url=api_url, api_key=api_key)
            session.add(provider)
        provider.api_url, provider.api_key = api_url.strip(), api_key.strip()
        provider.enabled = True
        provider.consecutive_failures = 0
        provider.last_error = provider.retry_after = None
        provider.balance, provider.currency = balance.amount, balance.currency
        provider.balance_checked_at = utcnow()
        if threshold is not None:
            provider.low_balance_threshold = threshold
        await session.flush()
        audit(
            session,
            admin_id,
            "provider.connect",
            f"provider:{provider.id}",
            before,
            provider_snapshot(provider),
        )
    return ConnectResult(provider, created, balance, None)


PROVIDER_OPTIONS = ("on", "off", "threshold")


async def set_provider_option(
    session: AsyncSession, name: str, option: str, value: Decimal | None, *, admin_id: int
) -> Provider:
    """/providerset NAME on|off|threshold AMOUNT."""
    if option not in PROVIDER_OPTIONS:
        raise CatalogError("bad_option", option=option)
    async with write_tx(session):
        provider = await provider_by_name(session, name)
        before = provider_snapshot(provider)
        if option == "threshold":
            if value is None or value < 0:
                raise CatalogError("bad_threshold")
            provider.low_balance_threshold = value
        else:
            provider.enabled = option == "on"
            if provider.enabled:
                provider.consecutive_failures = 0
                provider.retry_after = None
        audit(
            session,
            admin_id,
            "provider.set",
            f"provider:{provider.id}",
            before,
            provider_snapshot(provider),
        )
    return provider


async def mapped_counts(session: AsyncSession) -> dict[int, tuple[int, int]]:
    """provider id -> (services mapped, of which enabled)."""
    rows = await session.execute(
        select(Service.provider_id, func.count(), func.sum(case((Service.enabled, 1), else_=0)))
        .where(Service.provider_id.is_not(None))
        .group_by(Service.provider_id)
    )
    return {pid: (total, int(enabled or 0)) for pid, total, enabled in rows}


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
) -> MapResult:
    """(Re)map a panel service onto an imported provider service.

    The provider's type, rate basis and refill/cancel/drip-feed flags are copied (orders are
    sent with the provider's fields); min/max are narrowed into the provider's range.
    Warnings: price below the provider's cost, a type the chat cannot collect, manual mode.
    """
    async with write_tx(session):
        service = await get_service(session, service_id)
        provider = await provider_by_name(session, provider_name)
        ps = await session.scalar(
            select(ProviderService).where(
                ProviderService.provider_id == provider.id,
                ProviderService.service_id == provider_service_id.strip(),
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
        before = service_snapshot(service)
        service.provider_id, service.provider_service_id = provider.id, ps.service_id
        service.type, service.rate_basis = ps.type, ps.rate_basis
        service.min, service.max = narrow(service.min, service.max, ps.min, ps.max)
        service.refill, service.cancel = bool(ps.refill), bool(ps.cancel)
        service.dripfeed = bool(ps.dripfeed)
        service.provider = provider
        result = MapResult(service, ps)
        if service.price < ps.rate:
            result.warnings.append(
                (
                    "below_cost",
                    {"price": service.price, "cost": ps.rate, "currency": provider.currency},
                )
            )
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


def narrow(our_min: int, our_max: int, their_min: int, their_max: int) -> tuple[int, int]:
    """Our min/max clamped into the provider's; the provider's own if nothing overlaps."""
    low = max(our_min, their_min)
    high = min(our_max, their_max) if their_max else our_max
    if low > high:
        return their_min, their_max
    return low, high


@dataclass
class PriceResult:
    service: Service
    old: Decimal
    cost: Decimal | None
    cost_currency: str | None
    below_cost: bool


async def set_price(
    session: AsyncSession,
    service_id: int,
    price: Decimal,
    *,
    admin_id: int,
    force: bool = False,
    currency: str | None = None,
) -> PriceResult:
    """Set the price per 1000 (flat for packages); below the provider's cost only with force.

    When the provider bills in another currency than the panel the two cannot be compared:
    the price is set and the result says so (cost_currency differs).
    """
    if price <= 0:
        raise CatalogError("bad_price")
    async with write_tx(session):
        service = await get_service(session, service_id)
        ps = await provider_service_of(session, service)
        cost = ps.rate if ps is not None else None
        cost_currency = service.provider.currency if service.provider else None
        comparable = cost is not None and (
            not currency or not cost_currency or cost_currency == currency
        )
        below = comparable and cost is not None and price < cost
        if below and not force:
            raise CatalogError("below_cost", price=price, cost=cost, currency=cost_currency)
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
    return PriceResult(service, old, cost, cost_currency, bool(below))


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


async def search_providers(session: AsyncSession, name: str | None) -> list[Provider]:
    stmt = select(Provider).order_by(Provider.id)
    if name:
        stmt = stmt.where(func.lower(Provider.name) == name.strip().lower())
    return list(await session.scalars(stmt))
