"""/check: the Auto Order health check of the seed checklist, as data (SPEC §4).

For each provider: the key works (balance call), the balance is above its threshold, its
currency converts into ours (a rate is set), and every enabled panel service mapped to it
(first mapping or backup) is still offered (fresh services call), asks for min/max inside
the provider's, costs at least the provider's rate, and does not promise a refill or
cancel the provider does not offer. Each finding is a Problem(code, details); the
chat renders them. raise_alerts() turns the findings other admins must hear about into
deduplicated admin alerts; the scheduler's periodic watch can call check_provider too.

Alerts raised here are built by core.alerts, as the scheduler's watches (core.watch) build
them: the same key and payload either way, so an admin hears of a finding once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import alerts, fx
from core.mappings import services_mapped_to
from core.pricing import price_unit
from core.provider_accounts import clear_key_count, store_balance
from core.provider_failures import record_provider_failure
from db.engine import write_tx
from db.models import Provider, Service
from providers import (
    ApiError,
    Balance,
    NonJSONResponse,
    ProviderError,
    ProviderRegistry,
    RateLimited,
    RemoteService,
    UnexpectedResponse,
)


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
    services = await services_mapped_to(session, provider.id)
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
        report.problems.append(Problem(failure_kind(exc), {"message": exc.message[:300]}))
    await _store_balance(session, provider, report)
    if report.balance is not None:
        report.problems += _balance_problems(report.provider, report.balance, currency)
    if remote is None:
        return report
    rate = fx.rate_of(report.provider, currency)
    report.services_checked = len(services)
    for service, remote_id in services:
        report.problems += service_problems(
            service, remote.get(remote_id), remote_id=remote_id, fx_rate=rate
        )
    return report


def failure_kind(error: ProviderError) -> str:
    """Which of the distinct /check failures a provider call ended in:

    key_refused (the key or account is refused: fix the key), provider_error (the provider
    answered with its own error text), unreadable (an answer that is not the API's: HTML,
    broken JSON, a wrong URL), rate_limited, unreachable (no answer at all).
    """
    if isinstance(error, ApiError):
        return "key_refused" if error.stop_provider else "provider_error"
    if isinstance(error, NonJSONResponse | UnexpectedResponse):
        return "unreadable"
    if isinstance(error, RateLimited):
        return "rate_limited"
    return "unreachable"


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
    if fx.rate_missing(provider, currency):
        problems.append(
            Problem(
                "fx_missing",
                {
                    "provider": provider.name,
                    "provider_currency": balance.currency,
                    "ours": currency,
                },
            )
        )
    return problems


def service_problems(
    service: Service,
    remote: RemoteService | None,
    *,
    remote_id: str | None = None,
    fx_rate: Decimal | None = Decimal(1),
) -> list[Problem]:
    """What is wrong between one panel service and one provider service it maps to.

    Prices are compared in the panel's currency (`fx_rate`: panel units per provider unit;
    None when the provider's rate is missing, so no price comparison) and on our price's
    basis (per 1000 or per package).
    """
    base = {**_svc(service), "provider_service_id": remote_id or service.provider_service_id}
    if remote is None:
        return [Problem("not_offered", base)]
    problems = []
    if service.type != remote.type:  # the add request is built from our type
        problems.append(
            Problem("type_mismatch", {**base, "ours": service.type, "theirs": remote.type})
        )
    if service.min < remote.min:
        problems.append(Problem("min_below", {**base, "ours": service.min, "theirs": remote.min}))
    if remote.max and service.max > remote.max:
        problems.append(Problem("max_above", {**base, "ours": service.max, "theirs": remote.max}))
    if fx_rate is not None:
        cost = fx.unit_cost(remote.rate, remote.rate_basis, service, fx_rate)
        if service.price < cost:
            details = {
                **base,
                "price": service.price,
                "cost": cost,
                "per": price_unit(service.rate_basis),
            }
            problems.append(Problem("price_below_cost", details))
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
        if report.balance is not None:
            store_balance(row, report.balance)
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
                if problem.code == "fx_missing":
                    alert = alerts.provider_fx_missing(provider, d["ours"])
                elif problem.code == "low_balance":
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
        for provider in providers:
            answer = results.get(provider.id)
            row = await session.get(Provider, provider.id, populate_existing=True)
            if row is None or answer is None:
                continue
            if isinstance(answer, Balance):
                store_balance(row, answer)
            else:
                record_provider_failure(session, row, "balance", answer)
    return results
