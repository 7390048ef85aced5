"""Watching providers and orders for the admins (SPEC §4 alerts): balances, prices, stale orders.

Each check asks the providers first (no transaction open), then writes in one short
transaction. On PostgreSQL that transaction starts with a transaction-level advisory lock
per check, so replicas running the same check at the same moment write (and alert) once; the
lock ends with the transaction. Alerts go through core.alerts.raise_alert, deduplicated per
key for an interval.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import alerts, fx
from core.catalog_import import unstorable
from core.locks import job_lock
from core.mappings import services_mapped_to
from core.money import ZERO
from core.pricing import price_unit
from core.provider_accounts import store_balance
from core.provider_failures import record_provider_failure
from core.statuses import ACTIVE_STATUSES, OrderStatus
from db.engine import write_tx
from db.models import Order, Provider, ProviderService
from db.types import utcnow
from providers import ApiError, Balance, ProviderError, ProviderRegistry, RemoteService

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(hours=24)
STALE_LISTED = 30  # order ids named in the digest; the rest are counted
STALE_STATUSES = frozenset({OrderStatus.QUEUED, *ACTIVE_STATUSES})


# --- provider balances ----------------------------------------------------------------------


@dataclass
class BalanceCheck:
    provider_id: int
    balance: Balance | None
    error: ProviderError | None


async def _enabled_providers(
    session: AsyncSession, provider_ids: Iterable[int] | None
) -> list[Provider]:
    """Enabled providers (only these ids, when given: the scheduler runs each on its own)."""
    query = select(Provider).where(Provider.enabled)
    if provider_ids is not None:
        query = query.where(Provider.id.in_(list(provider_ids)))
    return list(await session.scalars(query))


async def check_balances(
    sessionmaker: async_sessionmaker[AsyncSession],
    registry: ProviderRegistry,
    admin_ids: frozenset[int],
    *,
    provider_ids: Iterable[int] | None = None,
    currency: str = "USD",
) -> list[BalanceCheck]:
    """balance() of every enabled provider, stored; admins alerted below the threshold."""
    async with sessionmaker() as session:
        providers = await _enabled_providers(session, provider_ids)
    checks = []
    for provider in providers:
        try:
            checks.append(BalanceCheck(provider.id, await registry.get(provider).balance(), None))
        except ProviderError as exc:
            checks.append(BalanceCheck(provider.id, None, exc))
    if not checks:
        return checks
    async with sessionmaker() as session, write_tx(session):
        lock = (
            "watch_balances" if provider_ids is None else f"watch_balances:{sorted(provider_ids)}"
        )
        if not await job_lock(session, lock):
            return checks
        for check in checks:
            provider = await session.get(Provider, check.provider_id)
            if provider is None:
                continue
            if check.error is not None:
                await _balance_failed(session, provider, check.error, admin_ids)
                continue
            assert check.balance is not None
            store_balance(provider, check.balance)
            if fx.rate_missing(provider, currency):
                await alerts.raise_alert(
                    session, admin_ids, alerts.provider_fx_missing(provider, currency)
                )
            threshold = provider.low_balance_threshold
            if threshold > 0 and check.balance.amount < threshold:
                alert = alerts.provider_low_balance(
                    provider, check.balance.amount, check.balance.currency
                )
                await alerts.raise_alert(session, admin_ids, alert)
    return checks


async def _balance_failed(
    session: AsyncSession, provider: Provider, error: ProviderError, admin_ids: frozenset[int]
) -> None:
    message = record_provider_failure(session, provider, "balance", error)
    if isinstance(error, ApiError) and error.stop_provider:
        alert = alerts.provider_key(provider, message)
    else:
        alert = alerts.provider_failing(provider, 1, message)
    await alerts.raise_alert(session, admin_ids, alert)


# --- provider prices ------------------------------------------------------------------------


@dataclass
class PriceCheck:
    provider_id: int
    services: int  # services the provider listed
    above: list[int]  # our service ids now priced below the provider's rate
    gone: list[int]  # our service ids the provider no longer offers
    error: ProviderError | None = None


async def check_prices(
    sessionmaker: async_sessionmaker[AsyncSession],
    registry: ProviderRegistry,
    admin_ids: frozenset[int],
    *,
    provider_ids: Iterable[int] | None = None,
    currency: str = "USD",
) -> list[PriceCheck]:
    """services() of every enabled provider: refresh the imported catalogue's rates and
    availability, and alert when a provider's rate is above what we charge for it."""
    async with sessionmaker() as session:
        providers = await _enabled_providers(session, provider_ids)
    results = []
    for provider in providers:
        try:
            catalogue = await registry.get(provider).services()
        except ProviderError as exc:
            log.warning("price watch: services of %s failed: %r", provider.name, exc)
            results.append(PriceCheck(provider.id, 0, [], [], exc))
            continue
        if not catalogue:
            # As in /import: an empty answer is a glitch far more often than a provider that
            # stopped selling (that one is switched off with /providerset).
            log.warning("price watch: %s listed no services; nothing changed", provider.name)
            results.append(PriceCheck(provider.id, 0, [], []))
            continue
        async with sessionmaker() as session, write_tx(session):
            if not await job_lock(session, f"watch_prices:{provider.id}"):
                continue
            results.append(
                await _apply_catalogue(session, provider.id, catalogue, admin_ids, currency)
            )
    return results


async def _apply_catalogue(
    session: AsyncSession,
    provider_id: int,
    catalogue: list[RemoteService],
    admin_ids: frozenset[int],
    currency: str,
) -> PriceCheck:
    provider = await session.get(Provider, provider_id)
    assert provider is not None
    offered = {s.id: s for s in catalogue}
    for row in await session.scalars(
        select(ProviderService).where(ProviderService.provider_id == provider_id)
    ):
        remote = offered.get(row.service_id)
        if remote is None:
            if row.available:
                row.available = False
            continue
        if unstorable(remote, ZERO):  # as /import: the row stays as it was
            continue
        if row.rate != remote.rate:
            row.rate = remote.rate
        if row.rate_basis != remote.rate_basis:
            row.rate_basis = remote.rate_basis
        if (row.min, row.max) != (remote.min, remote.max):
            row.min, row.max = remote.min, remote.max
        if not row.available:
            row.available = True
    check = PriceCheck(provider_id, len(catalogue), [], [])
    rate = fx.rate_of(provider, currency)  # None: no rate yet (the balance watch alerts)
    for service, remote_id in await services_mapped_to(session, provider_id):
        remote = offered.get(remote_id)
        if remote is None:
            check.gone.append(service.id)
            alert = alerts.service_unavailable(provider.name, service.id, service.name, remote_id)
            await alerts.raise_alert(session, admin_ids, alert)
            continue
        if rate is None:
            continue
        cost = fx.unit_cost(remote.rate, remote.rate_basis, service, rate)
        if cost > service.price:
            check.above.append(service.id)
            alert = alerts.provider_price_above(
                provider.name,
                service.id,
                service.name,
                service.price,
                cost,
                price_unit(service.rate_basis),
            )
            await alerts.raise_alert(session, admin_ids, alert)
    return check


# --- stale orders ---------------------------------------------------------------------------


async def check_stale_orders(
    sessionmaker: async_sessionmaker[AsyncSession],
    admin_ids: frozenset[int],
    *,
    older_than: timedelta = STALE_AFTER,
) -> list[int]:
    """Queued or active orders without a status change for `older_than`: one admin digest."""
    cutoff = utcnow() - older_than
    async with sessionmaker() as session, write_tx(session):
        if not await job_lock(session, "watch_stale_orders"):
            return []
        condition = (Order.status.in_(list(STALE_STATUSES)), Order.status_changed_at < cutoff)
        total = await session.scalar(select(func.count()).where(*condition)) or 0
        ids = list(
            await session.scalars(
                select(Order.id).where(*condition).order_by(Order.id).limit(STALE_LISTED)
            )
        )
        if total:
            hours = int(older_than.total_seconds() // 3600)
            await alerts.raise_alert(session, admin_ids, alerts.stale_orders(total, ids, hours))
    return ids


__all__ = [
    "BalanceCheck",
    "PriceCheck",
    "check_balances",
    "check_prices",
    "check_stale_orders",
]
