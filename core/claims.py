"""Claiming queued orders for their provider (SPEC §5): which are due, the claim itself, and
the claims a crash left behind.

The claim (queued → submitting) is one conditional UPDATE, so across workers and replicas
exactly one of them sends an order; it returns the columns the send and the outcome need, so
a claimed order costs no further read. The statements are built once, with bound parameters:
building SQLAlchemy expressions per order was a large share of the submission's CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.add_outcome import to_review
from core.statuses import OrderStatus
from db.engine import write_tx
from db.models import Order, Provider, Service, ServiceMapping
from db.types import utcnow

# No add takes this long (connect + read timeouts + pacing): a claim older than this is stuck.
STUCK_AFTER = timedelta(minutes=5)

_orders = Order.__table__.c
_providers = Provider.__table__.c
_services = Service.__table__.c


@dataclass(frozen=True, slots=True)
class Facts:
    """What routing and sending read of a queued order before claiming it: the order, its
    service (type and name as they are now) and its provider's account and pacing."""

    status: str
    service_id: int
    provider_id: int | None
    provider_service_id: str | None
    failover_tried: list[str] | None
    service_type: str
    service_name: str
    provider: ProviderAccount | None


@dataclass(frozen=True, slots=True)
class ProviderAccount:
    """A provider row as the registry takes it (providers.registry.ProviderRecord)."""

    id: int
    name: str
    api_url: str
    api_key: str
    rate_per_second: float | None
    concurrency: int | None


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed order (now `submitting`): its columns as the claim left them."""

    id: int
    user_id: int
    provider_id: int | None
    provider_service_id: str | None
    link: str
    quantity: int
    extra: dict[str, Any] | None
    refunded: Decimal
    error_code: str | None
    failover_tried: list[str] | None
    idempotency_key: str | None
    confirm_message_id: int | None
    created_at: datetime


_FACTS_COLUMNS = (
    _orders.status, _orders.service_id, _orders.provider_id, _orders.provider_service_id,
    _orders.failover_tried, _services.type, _services.name,
    _providers.id, _providers.name, _providers.api_url, _providers.api_key,
    _providers.rate_per_second, _providers.concurrency,
)  # fmt: skip
_FACTS = (
    select(*_FACTS_COLUMNS)
    .select_from(Order.__table__)
    .join(Service.__table__, _services.id == _orders.service_id)
    .outerjoin(Provider.__table__, _providers.id == _orders.provider_id)
    .where(_orders.id == bindparam("order_id"))
)

_READY = select(_providers.id).where(
    _providers.enabled.is_(True),
    _providers.retry_after.is_(None) | (_providers.retry_after <= bindparam("now")),
)
_CLAIMED_COLUMNS = [_orders[f.name] for f in fields(Claimed)]
_CLAIM = (
    update(Order.__table__)
    .where(
        _orders.id == bindparam("order_id"),
        _orders.status == OrderStatus.QUEUED,
        # A provider switched off or backing off (no funds, unreachable) keeps its orders
        # queued; an unmapped order is claimed so that it goes to review.
        _orders.provider_id.is_(None) | _orders.provider_id.in_(_READY),
    )
    .values(
        status=OrderStatus.SUBMITTING,
        attempts=_orders.attempts + 1,
        updated_at=bindparam("now"),
    )
    .returning(*_CLAIMED_COLUMNS)
)
_STATE = select(_orders.status, _orders.provider_id).where(_orders.id == bindparam("order_id"))


async def facts_of(session: AsyncSession, order_id: int) -> Facts | None:
    """The order's routing and sending facts (one statement); None if it does not exist."""
    row = (await session.execute(_FACTS, {"order_id": order_id})).first()
    if row is None:
        return None
    status, service_id, provider_id, psid, tried, type_, name, *account = row
    provider = ProviderAccount(*account) if account[0] is not None else None
    return Facts(status, service_id, provider_id, psid, tried, type_, name, provider)


async def claim(session: AsyncSession, order_id: int, now: datetime) -> Claimed | None:
    """queued → submitting, attempts + 1, in the caller's write transaction; None when the
    order is not queued (sent, being sent elsewhere, manual) or its provider is off or
    backing off. At most one caller ever gets the order."""
    row = (await session.execute(_CLAIM, {"order_id": order_id, "now": now})).first()
    return Claimed(*row) if row is not None else None


async def state_of(session: AsyncSession, order_id: int) -> tuple[str, int | None] | None:
    """The order's status and provider as committed now (after a claim that failed)."""
    row = (await session.execute(_STATE, {"order_id": order_id})).first()
    return (row[0], row[1]) if row is not None else None


async def due_queued_orders(
    session: AsyncSession, limit: int = 50, *, provider_id: int | None = None
) -> list[int]:
    """Queued orders whose retry time has come, oldest first, skipping providers in backoff
    (unless the order's service has backup mappings: submission routes it to one); with
    `provider_id`, that provider's only. Rows another replica is claiming right now are
    skipped (FOR UPDATE SKIP LOCKED; the claim itself is conditional)."""
    now = utcnow()
    has_backup = select(ServiceMapping.id).where(ServiceMapping.service_id == Order.service_id)
    query = (
        select(Order.id)
        .join(Provider, Provider.id == Order.provider_id)
        .where(
            Order.status == OrderStatus.QUEUED,
            (Order.next_attempt_at.is_(None)) | (Order.next_attempt_at <= now),
            (Provider.enabled & ((Provider.retry_after.is_(None)) | (Provider.retry_after <= now)))
            | has_backup.exists(),
        )
        .order_by(Order.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Order)
    )
    if provider_id is not None:
        query = query.where(Order.provider_id == provider_id)
    return list(await session.scalars(query))


async def recover_interrupted(
    session: AsyncSession, admin_ids: frozenset[int], *, older_than: timedelta = timedelta(0)
) -> list[int]:
    """Orders caught mid-submission by a crash go to review; nothing else changes.

    A lone process recovers every `submitting` order at start-up. With replicas, another
    process may be sending one right now, so only claims older than `older_than` (longer
    than any add can take, STUCK_AFTER) count as interrupted.
    """
    cutoff = utcnow() - older_than
    async with write_tx(session):
        orders = list(
            await session.scalars(
                select(Order)
                .where(Order.status == OrderStatus.SUBMITTING, Order.updated_at <= cutoff)
                .options(selectinload(Order.service))
            )
        )
        for order in orders:
            await to_review(
                session,
                order,
                order.service.name,
                "interrupted",
                "interrupted during submission; the provider may have it",
                admin_ids,
                notify_customer=True,
            )
    return [o.id for o in orders]
