"""/import: a provider's catalogue (action=services) into the panel (SPEC §4).

Rules, so re-running is always safe:
- Provider rows are upserted by (provider, service id) into provider_services.
- A panel service is created only the first time a provider service is seen, in a category
  named after the provider's category (platform guessed from that name). Later imports
  update the panel services *currently mapped* to it (name, description, type, min/max,
  refill/cancel/drip-feed and price) and never create a second one, so a service the admin
  remapped elsewhere does not come back.
- Price = rate × (1 + markup/100), 8 places, the rate converted into the panel's currency
  first (core.fx). A price an admin set by hand (/setprice) is kept; if the provider's rate
  rose above it, the result lists it and admins are alerted.
- Services the provider dropped are marked unavailable and their panel services switched
  off; if they come back they stay off until an admin switches them on.
- Types the chat cannot collect (core.pricing.input_kind is None) are imported switched off,
  and a service the provider changes to such a type is switched off.
- Panel services never get enabled by a re-import: an admin's "off" sticks.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import alerts, fx
from core.audit import audit
from core.catalog import CatalogError, manually_priced, provider_by_name
from core.links import guess_platform
from core.locks import job_lock
from core.money import InvalidAmount, in_range, money
from core.pricing import input_kind, price_unit
from db.engine import write_tx
from db.models import Category, ProviderService, Service
from providers import ProviderRegistry, RemoteService

MAX_MARKUP = Decimal(10000)
SERVICE_ID_LENGTH = 64  # ProviderService.service_id, Service.provider_service_id
INT32_MAX = 2**31 - 1  # min/max are INTEGER columns (32 bits on PostgreSQL)
OTHER_CATEGORY = "Other"


@dataclass
class BelowCost:
    service_id: int
    name: str
    price: Decimal
    rate: Decimal
    per: str  # "1000" or "package"


@dataclass
class ImportResult:
    provider: str
    currency: str | None
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    disabled_unsupported: int = 0
    unsupported_types: Counter[str] = field(default_factory=Counter)
    dropped: int = 0
    disabled_dropped: int = 0
    returned: int = 0
    kept_prices: int = 0
    categories_created: int = 0
    below_cost: list[BelowCost] = field(default_factory=list)
    # Rows that cannot be stored (an id over 64 characters, a max beyond the column, a rate
    # out of the money range): skipped and listed, the rest imports; known ones stay as were.
    skipped: list[tuple[str, str]] = field(default_factory=list)


def marked_up(rate: Decimal, markup: Decimal, fx_rate: Decimal = Decimal(1)) -> Decimal:
    """The provider's rate in the panel's currency, plus the markup."""
    return money(rate * fx_rate * (1 + markup / 100))


def unstorable(row: RemoteService, markup: Decimal) -> str | None:
    """Why this catalogue row does not fit the panel's columns, or None."""
    if len(row.id) > SERVICE_ID_LENGTH:
        return "service id longer than 64 characters"
    if not (0 <= row.min <= INT32_MAX and 0 <= row.max <= INT32_MAX):
        return f"min/max beyond {INT32_MAX}"
    if not in_range(row.rate) or row.rate < 0:
        return "rate out of the money range"
    try:
        marked_up(row.rate, markup)
    except InvalidAmount:
        return "price with the markup out of the money range"
    return None


async def import_services(
    session: AsyncSession,
    registry: ProviderRegistry,
    provider_name: str,
    markup: Decimal,
    *,
    admin_id: int,
    currency: str,
    admin_ids: frozenset[int] = frozenset(),
) -> ImportResult:
    """Fetch the provider's services and apply them in one transaction (see module rules).

    Prices are the provider's rates converted into the panel's `currency` (core.fx), so a
    provider billing in another currency without a rate set is refused (fx_missing).
    Raises CatalogError for a bad markup or unknown provider; a provider failure propagates
    as providers.ProviderError before anything is written.
    """
    if not 0 <= markup <= MAX_MARKUP:
        raise CatalogError("bad_markup", markup=markup)
    provider = await provider_by_name(session, provider_name)
    if fx.rate_missing(provider, currency):
        raise CatalogError("fx_missing", provider=provider.name, theirs=provider.currency)
    await session.commit()  # no transaction held over the provider call
    remote: dict[str, RemoteService] = {}
    skipped: list[tuple[str, str]] = []
    for row in await registry.get(provider).services():
        reason = unstorable(row, markup)
        if reason is None:
            remote[row.id] = row
        else:
            skipped.append((row.id[:SERVICE_ID_LENGTH], reason))
    async with write_tx(session):
        provider = await provider_by_name(session, provider.name)
        fx_rate = fx.rate_of(provider, currency) or Decimal(1)
        # Imports take turns (PostgreSQL; SQLite writers queue anyway): the second reads
        # what the first wrote (provider services, categories shared between providers)
        # instead of inserting the same rows again.
        await job_lock(session, "catalog_import", wait=True)
        result = ImportResult(
            provider.name, provider.currency, fetched=len(remote) + len(skipped), skipped=skipped
        )
        skipped_ids = {service_id for service_id, _ in skipped}
        known = {
            ps.service_id: ps
            for ps in await session.scalars(
                select(ProviderService).where(ProviderService.provider_id == provider.id)
            )
        }
        if not remote and known:
            # A glitch must not switch the whole catalogue off; a provider that really
            # stopped selling is disabled with /providerset instead.
            raise CatalogError("empty_catalogue", provider=provider.name)
        mapped: dict[str, list[Service]] = {}
        for svc in await session.scalars(select(Service).where(Service.provider_id == provider.id)):
            mapped.setdefault(svc.provider_service_id or "", []).append(svc)
        manual = await manually_priced(session)

        new_rows: list[RemoteService] = []
        for row in remote.values():
            ps = known.get(row.id)
            if ps is None:
                session.add(_new_provider_service(provider.id, row))
                new_rows.append(row)
                continue
            if not ps.available:
                result.returned += 1
            _copy_provider_service(ps, row)
            for svc in mapped.get(row.id, []):
                _update_service(svc, row, markup, fx_rate, svc.id in manual, result)
        for service_id, ps in known.items():
            if service_id in remote or service_id in skipped_ids or not ps.available:
                continue
            ps.available = False
            result.dropped += 1
            for svc in mapped.get(service_id, []):
                if svc.enabled:
                    svc.enabled = False
                    result.disabled_dropped += 1
        await _create_services(session, new_rows, provider.id, markup, fx_rate, result)
        for item in result.below_cost:
            alert = alerts.provider_price_above(
                provider.name, item.service_id, item.name, item.price, item.rate, item.per
            )
            await alerts.raise_alert(session, admin_ids, alert)
        audit(
            session,
            admin_id,
            "catalog.import",
            f"provider:{provider.id}",
            None,
            {
                "markup": str(markup),
                "fetched": result.fetched,
                "created": result.created,
                "updated": result.updated,
                "dropped": result.dropped,
            },
        )
    return result


def _new_provider_service(provider_id: int, row: RemoteService) -> ProviderService:
    ps = ProviderService(provider_id=provider_id, service_id=row.id)
    _copy_provider_service(ps, row)
    return ps


def _copy_provider_service(ps: ProviderService, row: RemoteService) -> None:
    ps.name = row.name
    ps.type = row.type[:64]
    ps.category = row.category
    ps.rate, ps.rate_basis = row.rate, row.rate_basis
    ps.min, ps.max = row.min, row.max
    ps.refill, ps.cancel, ps.dripfeed = row.refill, row.cancel, row.dripfeed
    ps.description = row.description
    ps.available = True


def _update_service(
    svc: Service,
    row: RemoteService,
    markup: Decimal,
    fx_rate: Decimal,
    manual_price: bool,
    result: ImportResult,
) -> None:
    before = _fields(svc)
    svc.name, svc.description = row.name, row.description
    svc.type, svc.rate_basis = row.type[:64], row.rate_basis
    svc.min, svc.max = max(row.min, 1), row.max
    svc.refill, svc.cancel, svc.dripfeed = bool(row.refill), bool(row.cancel), bool(row.dripfeed)
    if svc.enabled and input_kind(row.type) is None:
        # The provider changed it to a type the chat cannot collect: off, as on creation.
        svc.enabled = False
        result.disabled_unsupported += 1
        result.unsupported_types[row.type] += 1
    if manual_price:
        result.kept_prices += 1
        cost = fx.convert(row.rate, fx_rate)
        if svc.price < cost:
            per = price_unit(row.rate_basis)
            result.below_cost.append(BelowCost(svc.id, svc.name, svc.price, cost, per))
    else:
        svc.price = marked_up(row.rate, markup, fx_rate)
    if _fields(svc) == before:
        result.unchanged += 1
    else:
        result.updated += 1


def _fields(svc: Service) -> tuple[object, ...]:
    return (
        svc.name,
        svc.description,
        svc.type,
        svc.rate_basis,
        svc.min,
        svc.max,
        svc.refill,
        svc.cancel,
        svc.dripfeed,
        svc.price,
    )


def category_name(row: RemoteService) -> str:
    return ((row.category or "").strip() or OTHER_CATEGORY)[:255]


async def _create_services(
    session: AsyncSession,
    rows: list[RemoteService],
    provider_id: int,
    markup: Decimal,
    fx_rate: Decimal,
    result: ImportResult,
) -> None:
    if not rows:
        return
    categories = {c.name: c for c in await session.scalars(select(Category))}
    for name in dict.fromkeys(category_name(row) for row in rows):
        if name not in categories:
            categories[name] = Category(name=name, platform=guess_platform(name))
            session.add(categories[name])
            result.categories_created += 1
    await session.flush()
    for row in rows:
        supported = input_kind(row.type) is not None
        if not supported:
            result.disabled_unsupported += 1
            result.unsupported_types[row.type] += 1
        session.add(
            Service(
                category_id=categories[category_name(row)].id,
                name=row.name,
                description=row.description,
                type=row.type[:64],
                price=marked_up(row.rate, markup, fx_rate),
                rate_basis=row.rate_basis,
                min=max(row.min, 1),  # a provider's 0 would let a customer order nothing
                max=row.max,
                mode="auto",
                provider_id=provider_id,
                provider_service_id=row.id,
                refill=bool(row.refill),
                cancel=bool(row.cancel),
                dripfeed=bool(row.dripfeed),
                enabled=supported,
            )
        )
        result.created += 1
    await session.flush()
