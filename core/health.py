"""/check: the Auto Order health check of the seed checklist, as data (SPEC §4).

For each provider: the key works (balance call), the balance is above its threshold, and
every enabled panel service mapped to it is still offered (fresh services call), asks for
min/max inside the provider's, costs at least the provider's rate, and does not promise a
refill or cancel the provider does not offer. Each finding is a Problem(code, details); the
chat renders them. raise_alerts() turns the findings other admins must hear about into
deduplicated admin alerts; the scheduler's periodic watch can call check_provider too.

Alerts raised here are built by core.alerts, as the scheduler's watches (core.watch) build
them: the same key and payload either way, so an admin hears of a finding once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import alerts
from core.money import in_range
from core.provider_accounts import clear_key_count
from core.provider_failures import record_provider_failure
from core.watch import price_unit, provider_cost
from db.engine import write_tx
from db.models import Category, Provider, Service
from db.types import utcnow
from providers import ApiError, Balance, ProviderError, ProviderRegistry, RemoteService


@dataclass(frozen=True)
class Problem:
    code: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProviderReport:
    provider: Provider
    balance: Balance | None = None
    error: ProviderError | None = None
    services_checked: int = 0
    problems: list[Problem] = field(default_factory=list)


def _svc(service: Service) -> dict[str, Any]:
    return {"service_id": service.id, "service": service.name}


async def check_provider(
    session: AsyncSession,
    registry: ProviderRegistry,
    provider: Provider,
    *,
    currency: str,
) -> ProviderReport:
    """Run every check for one provider; stores the fresh balance (or the error) on it."""
    report = ProviderReport(provider)
    services = list(
        await session.scalars(
            select(Service)
            .join(Category)
            .where(Service.provider_id == provider.id, Service.enabled, Category.enabled)
            .order_by(Service.id)
        )
    )
    if not provider.enabled:
        if services:
            report.problems.append(Problem("provider_disabled", {"services": len(services)}))
        return report
    if session.in_transaction():
        await session.commit()  # no transaction held over the provider calls
    client = registry.get(provider)
    remote: dict[str, RemoteService] | None = None
    try:
        report.balance = await client.balance()
        remote = {row.id: row for row in await client.services()}
    except ProviderError as exc:
        report.error = exc
        code = "key_invalid" if isinstance(exc, ApiError) else "unreachable"
        report.problems.append(Problem(code, {"message": exc.message[:300]}))
    await _store_balance(session, provider, report)
    if report.balance is not None:
        report.problems += _balance_problems(provider, report.balance, currency)
    if remote is None:
        return report
    comparable = (
        not report.balance
        or not report.balance.currency
        or (report.balance.currency.upper() == currency.upper())
    )
    report.services_checked = len(services)
    for service in services:
        report.problems += service_problems(
            service, remote.get(service.provider_service_id or ""), compare_prices=comparable
        )
    return report


def _balance_problems(provider: Provider, balance: Balance, currency: str) -> list[Problem]:
    problems = []
    if provider.low_balance_threshold > 0 and balance.amount < provider.low_balance_threshold:
        problems.append(
            Problem(
                "low_balance",
                {
                    "balance": balance.amount,
                    "threshold": provider.low_balance_threshold,
                    "currency": balance.currency,
                },
            )
        )
    if balance.currency and balance.currency.upper() != currency.upper():
        problems.append(
            Problem("currency_mismatch", {"provider_currency": balance.currency, "ours": currency})
        )
    return problems


def service_problems(
    service: Service, remote: RemoteService | None, *, compare_prices: bool = True
) -> list[Problem]:
    """What is wrong between one panel service and the provider's current offer."""
    base = _svc(service)
    if remote is None:
        return [
            Problem("not_offered", {**base, "provider_service_id": service.provider_service_id})
        ]
    problems = []
    if service.type != remote.type:  # the add request is built from our type
        problems.append(
            Problem("type_mismatch", {**base, "ours": service.type, "theirs": remote.type})
        )
    if service.min < remote.min:
        problems.append(Problem("min_below", {**base, "ours": service.min, "theirs": remote.min}))
    if remote.max and service.max > remote.max:
        problems.append(Problem("max_above", {**base, "ours": service.max, "theirs": remote.max}))
    cost = provider_cost(remote, service)
    if compare_prices and service.price < cost:
        problems.append(
            Problem(
                "price_below_cost",
                {**base, "price": service.price, "cost": cost, "per": price_unit(service)},
            )
        )
    if service.refill and remote.refill is False:
        problems.append(Problem("refill_unsupported", base))
    if service.cancel and remote.cancel is False:
        problems.append(Problem("cancel_unsupported", base))
    return problems


async def _store_balance(session: AsyncSession, provider: Provider, report: ProviderReport) -> None:
    async with write_tx(session):
        row = await session.get(Provider, provider.id, populate_existing=True)
        if row is None:
            return
        now = utcnow()
        if report.balance is not None:
            amount = report.balance.amount
            row.balance = amount if in_range(amount) else None  # beyond the range: unknown
            row.currency = report.balance.currency
            row.balance_checked_at = now
        if report.error is not None:
            record_provider_failure(session, row, report.error.action or "balance", report.error)
        report.provider = row


async def panel_problems(session: AsyncSession) -> list[Problem]:
    """Findings about the panel as a whole: keys stored in clear, unmapped auto services."""
    clear = await clear_key_count(session)
    stored_in_clear = [Problem("keys_in_clear", {"count": clear})] if clear else []
    return stored_in_clear + await unmapped_auto_services(session)


async def unmapped_auto_services(session: AsyncSession) -> list[Problem]:
    """Enabled services in auto mode with no provider: their orders would go to review."""
    rows = await session.scalars(
        select(Service)
        .where(
            Service.enabled,
            Service.mode == "auto",
            (Service.provider_id.is_(None)) | (Service.provider_service_id.is_(None)),
        )
        .order_by(Service.id)
    )
    return [Problem("unmapped_auto", _svc(service)) for service in rows]


async def check_all(
    session: AsyncSession,
    registry: ProviderRegistry,
    *,
    currency: str,
    providers: list[Provider],
) -> list[ProviderReport]:
    return [
        await check_provider(session, registry, provider, currency=currency)
        for provider in providers
    ]


async def raise_alerts(
    session: AsyncSession, admin_ids: frozenset[int], reports: list[ProviderReport]
) -> None:
    """Low balance and price-below-cost findings become admin alerts (core.alerts), the
    same alerts the scheduler's watches raise: one alert either way."""
    async with write_tx(session):
        for report in reports:
            provider = report.provider
            for problem in report.problems:
                d = problem.details
                if problem.code == "low_balance":
                    alert = alerts.provider_low_balance(provider, d["balance"], d["currency"])
                elif problem.code == "price_below_cost":
                    alert = alerts.provider_price_above(
                        provider.name,
                        d["service_id"],
                        d["service"],
                        d["price"],
                        d["cost"],
                        d["per"],
                    )
                else:
                    continue
                await alerts.raise_alert(session, admin_ids, alert)


async def refresh_balances(
    session: AsyncSession, registry: ProviderRegistry, providers: list[Provider]
) -> dict[int, Balance | ProviderError]:
    """Ask every enabled provider for its balance at once and store the answers."""
    enabled = [p for p in providers if p.enabled]
    if session.in_transaction():
        await session.commit()

    async def one(provider: Provider) -> Balance | ProviderError:
        try:
            return await registry.get(provider).balance()
        except ProviderError as exc:
            return exc

    answers = await asyncio.gather(*(one(p) for p in enabled))
    results = {p.id: answer for p, answer in zip(enabled, answers, strict=True)}
    async with write_tx(session):
        now = utcnow()
        for provider in providers:
            answer = results.get(provider.id)
            row = await session.get(Provider, provider.id, populate_existing=True)
            if row is None or answer is None:
                continue
            if isinstance(answer, Balance):
                row.balance, row.currency, row.balance_checked_at = (
                    answer.amount,
                    answer.currency,
                    now,
                )
            else:
                record_provider_failure(session, row, "balance", answer)
    return results
