"""Refill sync (SPEC §5): open refills polled in chunks, as status sync polls orders.

The same shape as core.status_sync (sync_in_chunks): per provider, ids in chunks of at most
MAX_IDS_PER_REQUEST, each answer compared in bulk against plain columns first (nothing
differs: no write at all), then only the refills that change are read again, locked, and
written with one UPDATE per set of columns; the customers' messages about finished refills
go to the outbox in one INSERT, each keyed per refill and status (exactly once).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.status_sync import Open, SyncReport, record_failure, sync_in_chunks
from db.engine import write_tx
from db.models import Notification, Order, Refill, Service
from providers import MAX_IDS_PER_REQUEST, ProviderAPI, ProviderRegistry, RefillStatus

REFILL_STATUS = "refill_status"  # notification kind: a refill finished (completed / rejected)
FINAL_REFILL_STATUSES = frozenset({"completed", "rejected", "failed"})


# --- refills --------------------------------------------------------------------------------


async def sync_refill_statuses(
    sessionmaker: async_sessionmaker[AsyncSession],
    registry: ProviderRegistry,
    *,
    chunk_size: int = MAX_IDS_PER_REQUEST,
    provider_ids: Iterable[int] | None = None,
) -> SyncReport:
    """One cycle over every refill still open at its provider (of `provider_ids` only)."""

    async def list_open(session: AsyncSession) -> dict[int, list[Open]]:
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
        grouped: dict[int, list[Open]] = {}
        for refill_id, remote, provider_id in rows:
            grouped.setdefault(provider_id, []).append((refill_id, remote))
        return grouped

    async def ask(api: ProviderAPI, chunk: list[Open]) -> dict[str, RefillStatus]:
        return await api.multi_refill_status([remote for _, remote in chunk])

    async def apply(
        provider_id: int, chunk: list[Open], answers: dict[str, RefillStatus]
    ) -> SyncReport:
        return await apply_refill_chunk(sessionmaker, provider_id, chunk, answers)

    return await sync_in_chunks(sessionmaker, registry, list_open, ask, apply, chunk_size)


_REFILL_SEEN = (
    Refill.id, Refill.provider_refill_id, Refill.status, Refill.provider_status,
    Refill.last_error,
)  # fmt: skip


def _refill_values(row: Any, answer: RefillStatus) -> dict[str, Any]:
    """The columns a refill's answer sets (what differs from `row`); "status" only when it
    moves. An error is noted on the refill, which stays as it was."""
    if answer.error is not None:
        note = str(answer.error)[:2000]
        return {} if note == row.last_error else {"last_error": note}
    values: dict[str, Any] = {}
    raw = (answer.raw_status or answer.status or "")[:64] or None
    if raw != row.provider_status:
        values["provider_status"] = raw
    new = answer.status or "unknown"
    if new not in ("unknown", row.status):
        values["status"] = new
    return values


async def apply_refill_chunk(
    sessionmaker: async_sessionmaker[AsyncSession],
    provider_id: int,
    chunk: list[Open],
    answers: dict[str, RefillStatus],
) -> SyncReport:
    """Compared in bulk first (nothing differs: no write at all), then the refills that
    change are read again locked and written with one UPDATE per set of columns, the
    customers' messages of finished refills in one INSERT."""
    report = SyncReport()
    open_refills = (
        select(*_REFILL_SEEN, Order.id.label("order_id"), Order.user_id, Service.name)
        .join(Order, Order.id == Refill.order_id)
        .join(Service, Service.id == Order.service_id)
        .where(
            Refill.id.in_([refill_id for refill_id, _ in chunk]),
            Refill.status.not_in(list(FINAL_REFILL_STATUSES)),
        )
    )
    async with sessionmaker() as session:
        seen = list(await session.execute(open_refills))
        report.missing = sum(1 for r in seen if r.provider_refill_id not in answers)
        errors = [a.error for r in seen if (a := answers.get(r.provider_refill_id)) and a.error]
        report.refused = len(errors)
        moving = [r.id for r in seen if _moves_refill(r, answers)]
        whole_chunk_failed = bool(errors) and len(errors) == len(chunk)
        if not moving and not whole_chunk_failed:
            return report
        async with write_tx(session):
            rows = await session.execute(
                open_refills.where(Refill.id.in_(moving)).with_for_update(
                    skip_locked=True, of=Refill
                )
            )
            changes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            messages = []
            for row in rows:
                values = _refill_values(row, answers[row.provider_refill_id])
                changes.setdefault(tuple(sorted(values)), []).append({"_id": row.id, **values})
                new = values.get("status")
                if new is None:
                    continue
                report.changed += 1
                if new in FINAL_REFILL_STATUSES:
                    payload = {"order_id": row.order_id, "service": row.name, "status": new}
                    messages.append(
                        {
                            "chat_id": row.user_id, "kind": REFILL_STATUS, "payload": payload,
                            "dedupe_key": f"refill:{row.id}:{new}",
                        }
                    )  # fmt: skip
            for columns, params in changes.items():
                await session.execute(_refill_update(columns), params)
            if messages:
                await session.execute(insert(Notification.__table__), messages)
            if whole_chunk_failed:
                await record_failure(session, provider_id, "refill_status", errors[0])
    return report


def _moves_refill(row: Any, answers: dict[str, RefillStatus]) -> bool:
    answer = answers.get(row.provider_refill_id)
    return answer is not None and bool(_refill_values(row, answer))


def _refill_update(columns: tuple[str, ...]) -> Any:
    refills = Refill.__table__
    return (
        update(refills)
        .where(refills.c.id == bindparam("_id"))
        .values({name: bindparam(name, type_=refills.c[name].type) for name in columns})
    )


__all__ = ["FINAL_REFILL_STATUSES", "REFILL_STATUS", "apply_refill_chunk", "sync_refill_statuses"]
