"""Status sync (SPEC §5): active orders polled in batches, applied exactly once; the loop
(sync_in_chunks) is shared with refill sync (core.refill_sync).

Per provider the ids go out in chunks of at most MAX_IDS_PER_REQUEST (one request each) and
the answer for a chunk is compared in bulk with the orders' columns, read a window of
chunks ahead (ReadAhead: one read per WINDOW orders, not one per chunk); only a chunk whose
answer changes something is applied, in one short write transaction, and a cycle where
nothing changed writes nothing. No transaction is open while a provider is being asked.
The orders are read again inside the write transaction (locked with FOR UPDATE SKIP LOCKED
on PostgreSQL, so two replicas never apply the same row at once) and only while still
active, and the orders the answer changes are written in bulk
(core.lifecycle_bulk: a few statements per chunk, not per order): a status seen twice, a
retry, a restart or a second replica changes nothing the second time, and every refund is
keyed per order and reason.

Requests run side by side (per provider, and providers in parallel) while the answers are
written one chunk at a time: on SQLite concurrent writers only queue for the write lock.

A bad id never blocks the others: a per-id error is noted on that order, an id missing from
the answer stays as it was, a failed chunk is logged as a provider error and retried next
cycle.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from core.lifecycle import apply_provider_status
from core.lifecycle_bulk import (
    LOCKED_COLUMNS,
    SEEN_COLUMNS,
    Applied,
    apply_answers,
    changes_order,
    refused_note,
    seen_rows,
)
from core.provider_failures import record_provider_failure
from core.statuses import ACTIVE_STATUSES
from db.engine import write_tx
from db.models import Order, Provider, Service
from providers import (
    MAX_IDS_PER_REQUEST,
    TERMINAL_STATUSES,
    MultiStatusResult,
    ProviderAPI,
    ProviderError,
    ProviderRegistry,
    RemoteOrderStatus,
)

log = logging.getLogger(__name__)
_orders = Order.__table__
_services = Service.__table__

CHUNK_CONCURRENCY = 4  # chunks of one provider in flight at once (the client paces anyway)
WINDOW = 1000  # orders whose columns are compared are read this many at a time (ReadAhead)
LIST_PAGE = 10_000  # active orders listed per statement (active_remote_ids)

T = TypeVar("T")
A = TypeVar("A")


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


# --- one shape for orders and refills (core.refill_sync) -----------------------------------

Open = tuple[int, str]  # (our id, the provider's id) of an order or refill still open there


async def sync_in_chunks(
    sessionmaker: async_sessionmaker[AsyncSession],
    registry: ProviderRegistry,
    list_open: Callable[[AsyncSession], Awaitable[dict[int, list[Open]]]],
    ask: Callable[[ProviderAPI, list[Open]], Awaitable[A]],
    apply: Callable[[int, list[Open], A], Awaitable[SyncReport]],
    chunk_size: int,
) -> SyncReport:
    """One cycle: what is open, per provider, asked in chunks side by side (per provider,
    and providers in parallel), each answer applied by `apply` one chunk at a time."""
    async with sessionmaker() as session:
        grouped = await list_open(session)
        rows = await session.scalars(select(Provider).where(Provider.id.in_(list(grouped))))
        providers = {p.id: p for p in rows}
    writer = asyncio.Lock()

    async def one_provider(provider: Provider, items: list[Open]) -> SyncReport:
        api = registry.get(provider)

        async def one(chunk: list[Open]) -> SyncReport:
            answer = await ask(api, chunk)
            async with writer:
                return await apply(provider.id, chunk, answer)

        return await _run_chunks(provider, items, chunk_size, one)

    report = SyncReport(providers=len(providers))
    jobs = [one_provider(providers[p], items) for p, items in grouped.items() if p in providers]
    for part in await asyncio.gather(*jobs):
        report.merge(part)
    return report


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


async def record_failure(
    session: AsyncSession, provider_id: int, action: str, error: Exception
) -> None:
    provider = await session.get(Provider, provider_id)
    if provider is not None:
        record_provider_failure(session, provider, action, error)


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

    ahead: dict[int, ReadAhead] = {}

    async def list_open(session: AsyncSession) -> dict[int, list[Open]]:
        grouped = await active_remote_ids(session, provider_ids)
        ahead.update((p, ReadAhead(p, items)) for p, items in grouped.items())
        return grouped

    async def ask(api: ProviderAPI, chunk: list[Open]) -> MultiStatusResult:
        result = await api.multi_status([remote for _, remote in chunk])
        await _confirm_positional(api, result)
        return result

    async def apply(provider_id: int, chunk: list[Open], result: MultiStatusResult) -> SyncReport:
        return await apply_status_chunk(
            sessionmaker, provider_id, chunk, result, admin_ids=admin_ids, ahead=ahead[provider_id]
        )

    return await sync_in_chunks(sessionmaker, registry, list_open, ask, apply, chunk_size)


async def active_remote_ids(
    session: AsyncSession, provider_ids: Iterable[int] | None = None
) -> dict[int, list[Open]]:
    """(order id, provider order id) of the active orders, per provider, in id order: plain
    tuples (~15 MB at 100,000 active orders, not 100,000 ORM objects), read LIST_PAGE orders
    at a time, so the driver's rows of one page are held at once, not of all of them (read
    in one statement, 100,000 orders took the process ~12 MB higher)."""
    query = (
        select(Order.id, Order.provider_id, Order.provider_order_id)
        .where(Order.status.in_(list(ACTIVE_STATUSES)), Order.provider_order_id.is_not(None))
        .order_by(Order.id)
        .limit(LIST_PAGE)
    )
    if provider_ids is not None:
        query = query.where(Order.provider_id.in_(list(provider_ids)))
    grouped: dict[int, list[Open]] = {}
    after = 0
    while True:
        rows = (await session.execute(query.where(Order.id > after))).all()
        for order_id, provider_id, remote in rows:
            grouped.setdefault(provider_id or 0, []).append((order_id, remote or ""))
        if len(rows) < LIST_PAGE:
            return grouped
        after = rows[-1][0]


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


class ReadAhead:
    """The columns a chunk's answer is compared with (SEEN_COLUMNS), read for WINDOW orders
    of one provider at once when the first chunk of a window is compared: a cycle where
    nothing changed costs one read per window, not one per chunk. Each row is handed out
    once and then dropped, so a window or two is held, never the whole cycle.

    The rows are read outside the write transaction, like a chunk's own read: a row that
    moved meanwhile is read again, locked, before anything is written."""

    def __init__(self, provider_id: int, items: list[Open]) -> None:
        self.provider_id = provider_id
        self._items = items  # the provider's active orders in id order (active_remote_ids)
        self._read: set[int] = set()  # windows read
        self._rows: dict[int, Any] = {}

    async def rows(self, session: AsyncSession, chunk: list[Open]) -> list[Any]:
        """The chunk's orders still active (Seen rows)."""
        if not chunk:
            return []
        for window in range(self._window(chunk[0][0]), self._window(chunk[-1][0]) + 1):
            if window not in self._read:
                self._read.add(window)
                start = window * WINDOW
                await self._read_window(session, self._items[start : start + WINDOW])
        return [row for order_id, _ in chunk if (row := self._rows.pop(order_id, None)) is not None]

    def _window(self, order_id: int) -> int:
        return bisect.bisect_left(self._items, order_id, key=lambda item: item[0]) // WINDOW

    async def _read_window(self, session: AsyncSession, items: list[Open]) -> None:
        wanted = {order_id for order_id, _ in items}
        rows = await session.execute(
            select(*SEEN_COLUMNS).where(
                _orders.c.id.between(items[0][0], items[-1][0]),
                _orders.c.status.in_(list(ACTIVE_STATUSES)),
                _orders.c.provider_id == self.provider_id,
            )
        )
        self._rows.update((row.id, row) for row in seen_rows(rows) if row.id in wanted)


async def changed_in_chunk(
    session: AsyncSession,
    provider_id: int,
    chunk: list[Open],
    result: MultiStatusResult,
    ahead: ReadAhead | None = None,
) -> list[int]:
    """The orders of a chunk the answer changes: their columns (read ahead, or in one plain
    SELECT), compared in memory by the rule that applies it (lifecycle_bulk.changes_order)."""
    if ahead is not None:
        rows: Iterable[Any] = await ahead.rows(session, chunk)
    else:
        found = await session.execute(
            select(*SEEN_COLUMNS).where(
                _orders.c.id.in_([order_id for order_id, _ in chunk]),
                _orders.c.status.in_(list(ACTIVE_STATUSES)),
                _orders.c.provider_id == provider_id,
            )
        )
        rows = seen_rows(found)
    answers = result.results
    return [r.id for r in rows if changes_order(r, answers.get(r.provider_order_id or ""))]


async def apply_status_chunk(
    sessionmaker: async_sessionmaker[AsyncSession],
    provider_id: int,
    chunk: list[Open],
    result: MultiStatusResult,
    *,
    admin_ids: frozenset[int] = frozenset(),
    ahead: ReadAhead | None = None,
) -> SyncReport:
    """Apply one chunk's answer: compared in bulk first, then only the orders it changes are
    read again, locked, and written in bulk (core.lifecycle_bulk), in one transaction (all
    of it, or none after a crash). Nothing changed and nothing failed: no write at all.

    Should the bulk write fail (a value one order's columns cannot hold), the chunk is
    applied again order by order, each in its own savepoint, so that order alone is noted
    instead of the chunk failing every cycle."""
    report = SyncReport(missing=len(result.missing), failed=len(result.failed))
    async with sessionmaker() as session:
        changed = await changed_in_chunk(session, provider_id, chunk, result, ahead)
        if not changed and not result.failed:
            return report
        try:
            async with write_tx(session):
                applied = await _apply_in_bulk(session, provider_id, changed, result, admin_ids)
                await _note_failed_chunk(session, provider_id, result, report)
        except DBAPIError:
            log.warning("status sync: bulk write failed; order by order", exc_info=True)
            await session.rollback()
            report.errors.clear()
            async with write_tx(session):
                applied = await _apply_one_by_one(session, provider_id, changed, result, admin_ids)
                await _note_failed_chunk(session, provider_id, result, report)
    report.changed += applied.changed
    report.refused += applied.refused
    return report


def _locked(provider_id: int, ids: list[int], *columns: Any) -> Any:
    """The chunk's changed orders, still active, locked (FOR UPDATE SKIP LOCKED on
    PostgreSQL: a row another replica is applying is left to it)."""
    return (
        select(*columns)
        .join(_services, _services.c.id == _orders.c.service_id)
        .where(
            _orders.c.id.in_(ids),
            _orders.c.status.in_(list(ACTIVE_STATUSES)),
            _orders.c.provider_id == provider_id,
        )
        .order_by(_orders.c.id)
        .with_for_update(skip_locked=True, of=_orders)
    )


async def _apply_in_bulk(
    session: AsyncSession,
    provider_id: int,
    ids: list[int],
    result: MultiStatusResult,
    admin_ids: frozenset[int],
) -> Applied:
    rows = list(await session.execute(_locked(provider_id, ids, *LOCKED_COLUMNS)))
    if not rows:
        return Applied()
    return await apply_answers(session, rows, result.results, admin_ids=admin_ids)


async def _apply_one_by_one(
    session: AsyncSession,
    provider_id: int,
    ids: list[int],
    result: MultiStatusResult,
    admin_ids: frozenset[int],
) -> Applied:
    """The per-order lifecycle (core.lifecycle.apply_provider_status), one savepoint each."""
    applied = Applied()
    orders = await session.scalars(
        _locked(provider_id, ids, Order).options(selectinload(Order.service))
    )
    for order in list(orders):
        entry = result.results.get(order.provider_order_id or "")
        if not isinstance(entry, RemoteOrderStatus):
            if entry is not None:  # the provider refused this id: note it, keep the order
                applied.refused += 1
                order.last_error = refused_note(entry)
            continue
        order_id = order.id
        try:
            async with session.begin_nested():
                moved = await apply_provider_status(session, order, entry, admin_ids=admin_ids)
        except Exception as exc:
            log.exception("status sync: the answer for order %s was not applied", order_id)
            applied.refused += 1
            await session.execute(
                update(Order)
                .where(Order.id == order_id)
                .values(last_error=f"status: not applied: {exc!r}"[:2000])
            )
            continue
        applied.changed += int(moved)
    return applied


async def _note_failed_chunk(
    session: AsyncSession, provider_id: int, result: MultiStatusResult, report: SyncReport
) -> None:
    if result.failed:
        error = next(iter(result.failed.values()))
        await record_failure(session, provider_id, "status", error)
        report.errors.append(repr(error))


__all__ = [
    "Open",
    "ReadAhead",
    "SyncReport",
    "apply_status_chunk",
    "record_failure",
    "sync_in_chunks",
    "sync_order_statuses",
]
