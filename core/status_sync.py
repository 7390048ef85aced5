"""Status sync (SPEC §5): active orders and refills polled in batches, applied exactly once.

Per provider the ids go out in chunks of at most MAX_IDS_PER_REQUEST (one request each) and
the answer for a chunk is applied in one short write transaction; no transaction is open
while a provider is being asked. The orders are read again inside that transaction (locked
with FOR UPDATE SKIP LOCKED on PostgreSQL, so two replicas never apply the same row at once)
and only while still active: a status seen twice, a retry, a restart or a second replica
changes nothing the second time, and every refund is keyed per order and reason.

Requests run side by side (per provider, and providers in parallel) while the answers are
written one chunk at a time: on SQLite concurrent writers only queue for the write lock.

A bad id never blocks the others: a per-id error is noted on that order, an id missing from
the answer stays as it was, a failed chunk is logged as a provider error and retried next
cycle.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from core import notify
from core.lifecycle import apply_provider_status
from core.provider_failures import record_provider_failure
from core.statuses import ACTIVE_STATUSES, PROVIDER_TO_PANEL
from db.engine import write_tx
from db.models import Order, Provider, Refill, Service
from providers import (
    MAX_IDS_PER_REQUEST,
    TERMINAL_STATUSES,
    MultiStatusResult,
    OrderLookupError,
    ProviderAPI,
    ProviderError,
    ProviderRegistry,
    RefillStatus,
    RemoteOrderStatus,
)

log = logging.getLogger(__name__)

REFILL_STATUS = "refill_status"  # notification kind: a refill finished (completed / rejected)
FINAL_REFILL_STATUSES = frozenset({"completed", "rejected", "failed"})
CHUNK_CONCURRENCY = 4  # chunks of one provider in flight at once (the client paces anyway)

T = TypeVar("T")


@dataclass
class SyncReport:
    """What one cycle did; logged by the job and printed by the benchmark."""

    providers: int = 0
    items: int = 0  # orders (or refills) asked about
    requests: int = 0  # provider requests made (one per chunk)
    changed: int = 0  # panel status changes applied
    refused: int = 0  # ids the provider answered with an error
    missing: int = 0  # ids absent from the answer (left unchanged)
    failed: int = 0  # ids in chunks that failed as a whole (left unchanged)
    errors: list[str] = field(default_factory=list)

    def merge(self, other: SyncReport) -> None:
        for name in ("items", "requests", "changed", "refused", "missing", "failed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors += other.errors


def chunks(ids: list[T], size: int = MAX_IDS_PER_REQUEST) -> list[list[T]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


# --- orders ---------------------------------------------------------------------------------


async def sync_order_statuses(
    sessionmaker: async_sessionmaker[AsyncSession],
    registry: ProviderRegistry,
    *,
    chunk_size: int = MAX_IDS_PER_REQUEST,
    provider_ids: Iterable[int] | None = None,
    admin_ids: frozenset[int] = frozenset(),
) -> SyncReport:
    """One cycle over every active order with a provider order id (of `provider_ids` only,
    when given: the scheduler runs each provider on its own)."""
    async with sessionmaker() as session:
        grouped = await active_remote_ids(session, provider_ids)
        providers = await _providers(session, grouped)
    report = SyncReport(providers=len(providers))
    writer = asyncio.Lock()
    jobs = []
    for provider_id, remote in grouped.items():
        provider = providers.get(provider_id)
        if provider is None:
            continue
        jobs.append(
            _sync_provider_orders(
                sessionmaker,
                registry.get(provider),
                provider,
                remote,
                chunk_size,
                writer,
                admin_ids,
            )
        )
    for part in await asyncio.gather(*jobs):
        report.merge(part)
    return report


async def active_remote_ids(
    session: AsyncSession, provider_ids: Iterable[int] | None = None
) -> dict[int, list[tuple[int, str]]]:
    """(order id, provider order id) of the active orders, per provider: plain tuples, so
    100,000 active orders cost a few MB, not 100,000 ORM objects."""
    query = (
        select(Order.id, Order.provider_id, Order.provider_order_id)
        .where(Order.status.in_(list(ACTIVE_STATUSES)), Order.provider_order_id.is_not(None))
        .order_by(Order.id)
    )
    if provider_ids is not None:
        query = query.where(Order.provider_id.in_(list(provider_ids)))
    grouped: dict[int, list[tuple[int, str]]] = {}
    for order_id, provider_id, remote in await session.execute(query):
        grouped.setdefault(provider_id or 0, []).append((order_id, remote or ""))
    return grouped


async def _providers(session: AsyncSession, ids: Iterable[int]) -> dict[int, Provider]:
    rows = await session.scalars(select(Provider).where(Provider.id.in_(list(ids))))
    return {p.id: p for p in rows}


async def _sync_provider_orders(
    sessionmaker: async_sessionmaker[AsyncSession],
    api: ProviderAPI,
    provider: Provider,
    orders: list[tuple[int, str]],
    chunk_size: int,
    writer: asyncio.Lock,
    admin_ids: frozenset[int] = frozenset(),
) -> SyncReport:
    async def one(chunk: list[tuple[int, str]]) -> SyncReport:
        result = await api.multi_status([remote for _, remote in chunk])
        await _confirm_positional(api, result)
        async with writer:
            return await apply_status_chunk(
                sessionmaker, provider.id, chunk, result, admin_ids=admin_ids
            )

    return await _run_chunks(provider, orders, chunk_size, one)


async def _run_chunks(
    provider: Provider,
    items: list[T],
    chunk_size: int,
    one: Callable[[list[T]], Awaitable[SyncReport]],
) -> SyncReport:
    """Each chunk fetched and applied on its own: one failure never stops the others."""
    slots = asyncio.Semaphore(CHUNK_CONCURRENCY)

    async def guarded(chunk: list[T]) -> SyncReport:
        async with slots:
            try:
                part = await one(chunk)
            except Exception as exc:
                log.exception("status sync: a chunk of provider %s failed", provider.name)
                part = SyncReport(failed=len(chunk), errors=[repr(exc)])
            part.requests += 1
            part.items += len(chunk)
            return part

    report = SyncReport()
    for part in await asyncio.gather(*(guarded(c) for c in chunks(items, chunk_size))):
        report.merge(part)
    return report


async def _confirm_positional(api: ProviderAPI, result: MultiStatusResult) -> None:
    """A bare-list answer was matched to ids by position: before a final status (and its
    refund) is applied from it, ask for that one order on its own."""
    if not result.positional:
        return
    for remote, status in list(result.statuses().items()):
        if status.status not in TERMINAL_STATUSES:
            continue
        try:
            result.results[remote] = await api.status(remote)
        except ProviderError:
            del result.results[remote]
            result.missing.append(remote)


_SEEN = (
    Order.id, Order.status, Order.provider_status, Order.start_count, Order.remains, Order.cost,
    Order.provider_order_id, Order.last_error, Order.runs_done, Order.posts_done,
)  # fmt: skip


def _moves(row: Any, entry: RemoteOrderStatus | OrderLookupError | None) -> bool:
    """Whether applying this answer would change the order (compared on plain columns)."""
    if entry is None:
        return False
    if not isinstance(entry, RemoteOrderStatus):
        return row.last_error != _refused_note(entry)
    new = PROVIDER_TO_PANEL.get(entry.status)
    return (
        (new is not None and new != row.status)
        or row.provider_status != (entry.raw_status or entry.status)[:64]
        or (entry.start_count is not None and entry.start_count != row.start_count)
        or (entry.remains is not None and entry.remains != row.remains)
        or (entry.charge is not None and entry.charge != row.cost)
        # drip-feed runs done, subscription posts served (core.parents)
        or (entry.runs is not None and entry.runs != row.runs_done)
        or (entry.posts is not None and entry.posts != row.posts_done)
    )


def _refused_note(error: OrderLookupError) -> str:
    return f"status: {error.message}"[:2000]


async def changed_in_chunk(
    session: AsyncSession, provider_id: int, chunk: list[tuple[int, str]], result: MultiStatusResult
) -> list[int]:
    """The orders of a chunk the answer changes: one plain SELECT, compared in memory."""
    rows = await session.execute(
        select(*_SEEN).where(
            Order.id.in_([order_id for order_id, _ in chunk]),
            Order.status.in_(list(ACTIVE_STATUSES)),
            Order.provider_id == provider_id,
        )
    )
    return [row.id for row in rows if _moves(row, result.results.get(row.provider_order_id or ""))]


async def apply_status_chunk(
    sessionmaker: async_sessionmaker[AsyncSession],
    provider_id: int,
    chunk: list[tuple[int, str]],
    result: MultiStatusResult,
    *,
    admin_ids: frozenset[int] = frozenset(),
) -> SyncReport:
    """Apply one chunk's answer: compared in bulk first, then only the orders it changes are
    loaded and written, in one transaction (all of it, or none after a crash). Nothing
    changed and nothing failed: no write at all."""
    report = SyncReport(missing=len(result.missing), failed=len(result.failed))
    async with sessionmaker() as session:
        changed = await changed_in_chunk(session, provider_id, chunk, result)
        if not changed and not result.failed:
            return report
        async with write_tx(session):
            orders = await session.scalars(
                select(Order)
                .where(Order.id.in_(changed))
                .where(Order.status.in_(list(ACTIVE_STATUSES)), Order.provider_id == provider_id)
                .options(selectinload(Order.service))
                .order_by(Order.id)
                .with_for_update(skip_locked=True, of=Order)
            )
            for order in list(orders):
                await _apply_one(session, order, result, report, admin_ids)
            if result.failed:
                error = next(iter(result.failed.values()))
                await _record_failure(session, provider_id, "status", error)
                report.errors.append(repr(error))
    return report


async def _apply_one(
    session: AsyncSession,
    order: Order,
    result: MultiStatusResult,
    report: SyncReport,
    admin_ids: frozenset[int],
) -> None:
    entry = result.results.get(order.provider_order_id or "")
    if not isinstance(entry, RemoteOrderStatus):
        if entry is not None:  # the provider refused this id: note it, keep the order
            report.refused += 1
            order.last_error = _refused_note(entry)
        return
    order_id = order.id
    # One savepoint per order: an answer this order cannot take (a number too big to store,
    # say) is undone alone instead of failing the chunk every cycle.
    try:
        async with session.begin_nested():
            changed = await apply_provider_status(session, order, entry, admin_ids=admin_ids)
    except Exception as exc:
        log.exception("status sync: the answer for order %s was not applied", order_id)
        report.refused += 1
        await session.execute(
            update(Order)
            .where(Order.id == order_id)
            .values(last_error=f"status: not applied: {exc!r}"[:2000])
        )
        return
    if changed:
        report.changed += 1


async def _record_failure(
    session: AsyncSession, provider_id: int, action: str, error: Exception
) -> None:
    provider = await session.get(Provider, provider_id)
    if provider is not None:
        record_provider_failure(session, provider, action, error)


# --- refills --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _OpenRefill:
    id: int
    provider_refill_id: str


async def sync_refill_statuses(
    sessionmaker: async_sessionmaker[AsyncSession],
    registry: ProviderRegistry,
    *,
    chunk_size: int = MAX_IDS_PER_REQUEST,
    provider_ids: Iterable[int] | None = None,
) -> SyncReport:
    """One cycle over every refill still open at its provider (of `provider_ids` only)."""
    async with sessionmaker() as session:
        rows = await session.execute(
            select(Refill.id, Refill.provider_refill_id, Order.provider_id)
            .join(Order, Order.id == Refill.order_id)
            .where(
                Refill.status.not_in(list(FINAL_REFILL_STATUSES)),
                Refill.provider_refill_id.is_not(None),
                Order.provider_id.is_not(None),
                *([] if provider_ids is None else [Order.provider_id.in_(list(provider_ids))]),
            )
            .order_by(Refill.id)
        )
        grouped: dict[int, list[_OpenRefill]] = {}
        for refill_id, remote, provider_id in rows:
            grouped.setdefault(provider_id, []).append(_OpenRefill(refill_id, remote))
        providers = await _providers(session, grouped)
    report = SyncReport(providers=len(providers))
    writer = asyncio.Lock()
    jobs = []
    for provider_id, refills in grouped.items():
        provider = providers.get(provider_id)
        if provider is not None:
            jobs.append(
                _sync_provider_refills(
                    sessionmaker, registry.get(provider), provider, refills, chunk_size, writer
                )
            )
    for part in await asyncio.gather(*jobs):
        report.merge(part)
    return report


async def _sync_provider_refills(
    sessionmaker: async_sessionmaker[AsyncSession],
    api: ProviderAPI,
    provider: Provider,
    refills: list[_OpenRefill],
    chunk_size: int,
    writer: asyncio.Lock,
) -> SyncReport:
    async def one(chunk: list[_OpenRefill]) -> SyncReport:
        answers = await api.multi_refill_status([r.provider_refill_id for r in chunk])
        async with writer:
            return await apply_refill_chunk(sessionmaker, provider.id, chunk, answers)

    return await _run_chunks(provider, refills, chunk_size, one)


async def apply_refill_chunk(
    sessionmaker: async_sessionmaker[AsyncSession],
    provider_id: int,
    chunk: list[_OpenRefill],
    answers: dict[str, RefillStatus],
) -> SyncReport:
    report = SyncReport()
    async with sessionmaker() as session, write_tx(session):
        rows = await session.execute(
            select(Refill, Order.id, Order.user_id, Service.name)
            .join(Order, Order.id == Refill.order_id)
            .join(Service, Service.id == Order.service_id)
            .where(
                Refill.id.in_([r.id for r in chunk]),
                Refill.status.not_in(list(FINAL_REFILL_STATUSES)),
            )
            .with_for_update(skip_locked=True, of=Refill)
        )
        failure: Exception | None = None
        for refill, order_id, user_id, service_name in rows:
            answer = answers.get(refill.provider_refill_id or "")
            if answer is None:
                report.missing += 1
                continue
            if answer.error is not None:
                report.refused += 1
                failure = failure or answer.error
                refill.last_error = str(answer.error)[:2000]
                continue
            refill.provider_status = (answer.raw_status or answer.status or "")[:64] or None
            new = answer.status or "unknown"
            if new == "unknown" or new == refill.status:
                continue
            refill.status = new
            report.changed += 1
            if new in FINAL_REFILL_STATUSES:
                notify.enqueue(
                    session,
                    user_id,
                    REFILL_STATUS,
                    {"order_id": order_id, "service": service_name, "status": new},
                    dedupe_key=f"refill:{refill.id}:{new}",
                )
        if failure is not None and report.refused == len(chunk):  # the whole chunk failed
            await _record_failure(session, provider_id, "refill_status", failure)
    return report


__all__ = [
    "FINAL_REFILL_STATUSES",
    "REFILL_STATUS",
    "SyncReport",
    "apply_status_chunk",
    "sync_order_statuses",
    "sync_refill_statuses",
]
