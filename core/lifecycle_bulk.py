"""A status-sync chunk's answers applied in bulk: the lifecycle of many orders at once.

The rules are core.lifecycle's (plan_provider_status, refund_due, beyond_status_note) and the
message is notify.order_status_row: this module only writes what they decide for a whole
chunk in a few statements instead of a few per order — the orders in one executemany
UPDATE, the history rows and the customers' messages each in one INSERT, the refunds as
ledger rows with their idempotency keys and one balance UPDATE (billing.refund_many). The
database ends exactly as apply_provider_status order by order would leave it.

The caller reads the rows with LOCKED_COLUMNS in its write transaction, locked (FOR UPDATE on
PostgreSQL; SQLite's write lock), and only while active: a second replica or a repeated
answer finds them moved already.
"""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import alerts, billing, notify
from core.lifecycle import beyond_status_note, plan_provider_status, refund_due
from db.models import Notification, Order, OrderStatusChange, Service
from db.types import utcnow
from providers import OrderLookupError, RemoteOrderStatus
from telemetry import metrics

_orders = Order.__table__

# The columns the rules read and the ones an answer may write (table columns: plain Core
# statements, no ORM work per row).
WRITTEN = (
    "status", "provider_status", "start_count", "remains", "cost", "runs_done", "posts_done",
    "last_error", "error_code", "refunded", "status_changed_at",
)  # fmt: skip
_READ = ("id", "provider_order_id", "charge", "quantity", "extra")  # plan_provider_status's
# What changes_order compares: the rule's inputs and the columns an answer sets.
SEEN_COLUMNS = tuple(_orders.c[name] for name in (*_READ, *WRITTEN[:-2]))
LOCKED_COLUMNS = (
    *(_orders.c[name] for name in (*_READ, "user_id")),
    _orders.c.provider_id,  # the metrics' label
    *(_orders.c[name] for name in WRITTEN),
    Service.__table__.c.name.label("service_name"),  # for the customer's message
)
_WRITTEN_AT = slice(len(_READ) + 2, len(_READ) + 2 + len(WRITTEN))  # in LOCKED_COLUMNS
# Rows are read into plain named tuples: a name is an index there, while a database row
# finds it by a lookup (~10× slower, and a chunk reads ~15 names of each of its rows).
Seen = namedtuple("Seen", [column.name for column in SEEN_COLUMNS])  # type: ignore[misc]
Locked = namedtuple("Locked", [column.key for column in LOCKED_COLUMNS])  # type: ignore[misc]


def seen_rows(rows: Iterable[Row[Any]]) -> Iterator[Any]:
    """SEEN_COLUMNS rows as Seen tuples."""
    return map(Seen._make, rows)


@functools.cache
def _update(columns: tuple[str, ...]) -> Any:
    """One executemany UPDATE of these columns (of WRITTEN), keyed by "_id"."""
    return (
        update(_orders)
        .where(_orders.c.id == bindparam("_id"))
        .values({name: bindparam(name, type_=_orders.c[name].type) for name in columns})
    )


@dataclass(slots=True)
class _Change:
    """One order of the chunk: its row and the values it will have."""

    row: Any  # Locked
    values: dict[str, Any]
    refund: billing.Refund | None = None

    # notify.StatusFacts, read after the answer was applied
    @property
    def id(self) -> int:
        return int(self.row.id)

    @property
    def user_id(self) -> int:
        return int(self.row.user_id)

    @property
    def error_code(self) -> str | None:
        return self.values["error_code"]  # type: ignore[no-any-return]

    @property
    def remains(self) -> int | None:
        return self.values["remains"]  # type: ignore[no-any-return]


@dataclass
class Applied:
    changed: int = 0  # orders whose panel status moved
    refused: int = 0  # ids the provider answered with an error (noted on the order)


def refused_note(error: OrderLookupError) -> str:
    return f"status: {error.message}"[:2000]


def changes_order(row: Any, entry: RemoteOrderStatus | OrderLookupError | None) -> bool:
    """Whether applying `entry` would change the order `row` (a Seen row): the rule that
    applies it (plan_provider_status) asked, its outcome compared with the row's columns."""
    if entry is None:
        return False
    if not isinstance(entry, RemoteOrderStatus):
        return bool(row.last_error != refused_note(entry))
    move = plan_provider_status(row, entry)
    if move.new is not None:
        return True
    return any(getattr(row, name) != value for name, value in move.fields.items())


async def apply_answers(
    session: AsyncSession,
    rows: Iterable[Row[Any]],
    answers: Mapping[str, RemoteOrderStatus | OrderLookupError],
    *,
    admin_ids: frozenset[int] = frozenset(),
) -> Applied:
    """Apply each row (LOCKED_COLUMNS, the orders joined to their services) its answer,
    keyed by provider order id, in the caller's transaction."""
    result = Applied()
    now = utcnow()
    changes: list[_Change] = []
    moved: list[tuple[_Change, str, str | None]] = []  # (order, new status, history note)
    beyond: list[alerts.Alert] = []
    for row in map(Locked._make, rows):
        entry = answers.get(row.provider_order_id or "")
        if entry is None:
            continue
        change = _Change(row, dict(zip(WRITTEN, row[_WRITTEN_AT], strict=True)))
        changes.append(change)
        if not isinstance(entry, RemoteOrderStatus):  # refused: noted, the order kept
            change.values["last_error"] = refused_note(entry)
            result.refused += 1
            continue
        move = plan_provider_status(row, entry)
        change.values.update(move.fields)
        if move.new is None:
            continue
        if move.implied is not None and move.refund_reason:
            due = refund_due(row.charge, row.refunded, move.implied, move.refund_reason)
            if due.amount > 0:
                change.refund = billing.Refund(row.user_id, row.id, due.amount, due.reason)
            elif due.amount < 0:
                kept, implied = row.refunded, due.target
                change.values["last_error"] = beyond_status_note(move.new, implied, kept)
                beyond.append(alerts.refund_above_status(row.id, move.new, kept, implied))
        change.values["status"] = move.new
        change.values["status_changed_at"] = now
        moved.append((change, move.new, move.note))
    if not changes:
        return result
    refunded = await billing.refund_many(session, [c.refund for c, _, _ in moved if c.refund])
    for change, _, _ in moved:
        if change.refund is not None and change.refund in refunded:
            change.values["refunded"] = change.row.refunded + change.refund.amount
        else:
            change.refund = None  # already refunded under this key: nothing now
    await _write_orders(session, changes)
    await _history_and_messages(session, moved)
    for change, new, _ in moved:
        metrics.order_moved(change.row.provider_id, change.row.status, new, placed_at=None)
    for alert in beyond:
        await alerts.raise_alert(session, admin_ids, alert)
    result.changed = len(moved)
    return result


async def _write_orders(session: AsyncSession, changes: list[_Change]) -> None:
    """Each order's columns that differ from its row, in one UPDATE per set of columns (a
    chunk has a few: the columns an unchanged value would rewrite cost the most to send)."""
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for change in changes:
        old = change.row[_WRITTEN_AT]
        new = change.values
        columns = tuple(name for name, was in zip(WRITTEN, old, strict=True) if new[name] != was)
        if columns:
            params = {name: new[name] for name in columns}
            params["_id"] = change.row.id
            by_columns.setdefault(columns, []).append(params)
    for columns, params in by_columns.items():
        await session.execute(_update(columns), params)


async def _history_and_messages(
    session: AsyncSession,
    moved: list[tuple[_Change, str, str | None]],
) -> None:
    """One history row per move, then the customer's message keyed on it (as change_status)."""
    if not moved:
        return
    history = OrderStatusChange.__table__
    written = await session.execute(
        # One row per order here, so each id is matched by its order (RETURNING's row order
        # is not promised, and asking for it makes SQLite insert row by row).
        insert(history).returning(history.c.order_id, history.c.id),
        [
            {"order_id": c.id, "old_status": c.row.status, "new_status": new, "note": note}
            for c, new, note in moved
        ],
    )
    history_ids: dict[int, int] = {order_id: row_id for order_id, row_id in written}
    messages = [
        notify.order_status_row(
            change,
            change.row.status,
            new,
            service_name=change.row.service_name,
            refund=change.refund.amount if change.refund else None,
            history_id=history_ids[change.id],
        )
        for change, new, _ in moved
    ]
    await session.execute(insert(Notification.__table__), messages)


__all__ = [
    "LOCKED_COLUMNS",
    "SEEN_COLUMNS",
    "Applied",
    "apply_answers",
    "changes_order",
    "refused_note",
    "seen_rows",
]
