"""Which of its service's provider services a queued order is sent to (failover's data; the
decisions are core.failover's, the mappings' rules core.mappings').

A service's routes are its mappings by priority: 1 its own (Service.provider_id /
provider_service_id), then its backups (ServiceMapping rows); a route whose provider's
catalogue dropped the service is not offered. They change only when an admin (or a refusal
marking a service dropped) changes the catalogue, so the lanes hold them in a snapshot
(RouteCache) kept like the chat's catalogue (core.snapshot): a change committed here
is seen at once, another replica's within CHECK_EVERY. Whether a provider is switched on and
not backing off is always read live, and only when the order has somewhere else to go; the
claim itself checks its provider's readiness again (core.claims), so a stale snapshot can at
worst keep an order on its mapping for that interval, never send it to a provider that is
off. An admin's resend reads the routes live.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import failover, mappings
from core.add_outcome import alert_account, backoff, count_failure
from core.claims import Facts
from core.failover import Candidate
from core.mappings import PRIMARY
from core.provider_failures import record_provider_failure
from core.snapshot import CHECK_EVERY, VersionedSnapshot
from core.statuses import OrderStatus
from db.cache_versions import CATALOG
from db.models import Order, Provider, ProviderService, Service, ServiceMapping
from db.types import utcnow
from providers import AddOutcome, ApiError, error_codes

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Route:
    priority: int
    provider_id: int
    provider_service_id: str
    offered: bool  # False once the provider's catalogue dropped the service

    @property
    def key(self) -> str:
        return f"{self.provider_id}:{self.provider_service_id}"


@dataclass(frozen=True)
class Routes:
    """The routes of services (every service, or the ones asked for) at a catalogue version."""

    version: int
    by_service: Mapping[int, tuple[Route, ...]]

    def of(self, service_id: int) -> tuple[Route, ...]:
        return self.by_service.get(service_id, ())


async def load_routes(
    session: AsyncSession, version: int, service_ids: Iterable[int] | None = None
) -> Routes:
    """The routes of these services (every service when None) in three statements."""
    own = select(Service.id, Service.provider_id, Service.provider_service_id).where(
        Service.provider_id.is_not(None)
    )
    backups = select(
        ServiceMapping.service_id,
        ServiceMapping.provider_id,
        ServiceMapping.provider_service_id,
        ServiceMapping.priority,
    )
    if service_ids is not None:
        ids = list(service_ids)
        own = own.where(Service.id.in_(ids))
        backups = backups.where(ServiceMapping.service_id.in_(ids))
    pairs: dict[int, list[tuple[int, int, str]]] = {}
    for service_id, provider_id, psid in await session.execute(own):
        if psid:
            pairs.setdefault(service_id, []).append((PRIMARY, provider_id, psid))
    for service_id, provider_id, psid, priority in await session.execute(backups):
        pairs.setdefault(service_id, []).append((priority, provider_id, psid))
    dropped: set[tuple[int, str]] = set()
    if pairs:
        rows = await session.execute(
            select(ProviderService.provider_id, ProviderService.service_id).where(
                ProviderService.available.is_(False)
            )
        )
        dropped = {(provider_id, psid) for provider_id, psid in rows}
    by_service = {
        service_id: tuple(
            Route(priority, provider_id, psid, (provider_id, psid) not in dropped)
            for priority, provider_id, psid in sorted(found)
        )
        for service_id, found in pairs.items()
    }
    return Routes(version, MappingProxyType(by_service))


_PROVIDER_STATE = select(Provider.id, Provider.enabled, Provider.retry_after).where(
    Provider.id.in_(bindparam("ids", expanding=True))
)


async def candidates(
    session: AsyncSession, service_id: int, routes: Routes | None = None
) -> list[Candidate]:
    """The service's routes as failover weighs them, with each provider's state read now
    (`routes`: the snapshot to take the routes from; None reads them now too)."""
    if routes is None:
        routes = await load_routes(session, 0, [service_id])
    found = routes.of(service_id)
    if not found:
        return []
    ids = sorted({r.provider_id for r in found})
    state = {
        provider_id: (bool(enabled), retry_after)
        for provider_id, enabled, retry_after in await session.execute(
            _PROVIDER_STATE, {"ids": ids}
        )
    }
    return [
        Candidate(
            priority=r.priority,
            provider_id=r.provider_id,
            provider_service_id=r.provider_service_id,
            provider_enabled=state.get(r.provider_id, (False, None))[0],
            retry_after=state.get(r.provider_id, (False, None))[1],
            offered=r.offered,
        )
        for r in found
    ]


class RouteCache(VersionedSnapshot[Routes]):
    """The lanes' snapshot of every service's routes (one per process; core.snapshot)."""

    def __init__(
        self, *, check_every: float = CHECK_EVERY, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(CATALOG, load_routes, check_every=check_every, clock=clock)


_MOVE = (
    update(Order.__table__)
    .where(
        Order.__table__.c.id == bindparam("order_id"),
        Order.__table__.c.status == OrderStatus.QUEUED,
    )
    .values(
        provider_id=bindparam("provider_id"), provider_service_id=bindparam("provider_service_id")
    )
)


async def route(
    session: AsyncSession,
    order_id: int,
    facts: Facts,
    now: datetime,
    cache: RouteCache | None = None,
) -> Candidate | None:
    """A queued order goes to its service's first ready route (by priority) that has not
    refused it yet: a provider off or backing off is passed over for the next one instead of
    holding the order. Returns the route it moved to (in the caller's write transaction),
    None if it stays."""
    if facts.status != OrderStatus.QUEUED or facts.provider_id is None:
        return None
    current = f"{facts.provider_id}:{facts.provider_service_id}"
    routes = await cache.current(session) if cache is not None else None
    if routes is not None:
        found = routes.of(facts.service_id)
        if not found or (len(found) == 1 and found[0].key == current):
            return None  # nowhere else to go: no provider state to read
    weighed = await candidates(session, facts.service_id, routes)
    chosen = failover.choose(weighed, now, tried=facts.failover_tried or ())
    if chosen is None or chosen.key == current:
        return None
    await session.execute(
        _MOVE,
        {
            "order_id": order_id,
            "provider_id": chosen.provider_id,
            "provider_service_id": chosen.provider_service_id,
        },
    )
    return chosen


async def next_route(
    session: AsyncSession,
    order: Order,
    outcome: AddOutcome,
    tried: list[str],
    admin_ids: frozenset[int],
) -> Order | None:
    """After a refusal about the provider: the order moved to the next ready route (still
    submitting), or queued for a backup that is only backing off, or None when no route is
    left (the outcome then applies as with one provider). Reads everything live."""
    now = utcnow()
    weighed = await candidates(session, order.service_id)
    chosen = failover.choose(weighed, now, tried=tried)
    waiting = [c for c in weighed if c.key not in tried and c.provider_enabled and c.offered]
    if chosen is None and not waiting:
        return None
    provider = order.provider
    assert provider is not None
    error = outcome.error
    message = error.message if error is not None else (outcome.reason or outcome.kind)
    code = error.code if isinstance(error, ApiError) else outcome.kind
    message = record_provider_failure(
        session, provider, "add", message, order_id=order.id, code=code
    )
    if outcome.kind in ("no_funds", "not_sent") or (
        isinstance(error, ApiError) and error.stop_provider
    ):
        # The whole account is out (no funds, unreachable, key): its other orders skip it.
        provider.retry_after = now + backoff(provider.consecutive_failures + 1)
        await count_failure(session, provider, admin_ids)
        await alert_account(session, provider, outcome, message, admin_ids)
    elif code == error_codes.INVALID_SERVICE:
        await mappings.mark_dropped(session, provider.id, order.provider_service_id or "")
    target = chosen or min(waiting, key=lambda c: c.retry_after or now)
    order.provider = await session.get(Provider, target.provider_id)
    order.provider_id, order.provider_service_id = target.provider_id, target.provider_service_id
    order.last_error = f"{provider.name}: {message}"[:2000]
    order.error_code = code
    if chosen is None:  # only backups that are backing off: wait for the first of them
        order.status = OrderStatus.QUEUED
        order.next_attempt_at = target.retry_after
    await session.flush()
    log.info(
        "order %s: %s refused (%s), next mapping %s", order.id, provider.name, code, target.key
    )
    return order
