"""Notifications as data: rows in the outbox, rendered and sent by the scheduler's sender.

Core decides *what* to tell whom; the Telegram UI decides the words (handlers.notifications)
in the recipient's language at send time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session

from db.cache_versions import PanelSession
from db.models import LedgerEntry, Notification, Order
from db.types import utcnow

ORDER_STATUS = "order_status"
BALANCE_CHANGE = "balance_change"
ADMIN_ALERT = "admin_alert"
ORDER_PLACED = "order_placed"  # the provider's answer, shown by editing the confirmation
MASS_PLACED = "mass_placed"  # the same for a message of a mass confirmation
EDITS = frozenset({ORDER_PLACED, MASS_PLACED})  # kinds that edit payload["message_id"]

log = logging.getLogger(__name__)

# What the sender calls to word a row: (language, kind, payload) -> text. The Telegram UI
# provides it (handlers.notifications.renderer); the scheduler only receives it.
Render = Callable[[str | None, str, dict[str, Any]], str]


class UnknownNotification(ValueError):
    """A kind (or alert kind) the renderer cannot word: the row is skipped, not retried."""


# --- the outbox bell: an in-process signal that rows were committed ---------------------
_BELL = "outbox_bell"  # session info: what to call after a commit that inserted outbox rows
_RANG = "outbox_inserted"  # session info: this transaction inserted outbox rows


def ring_on_insert(
    sessionmaker: async_sessionmaker[AsyncSession], bell: Callable[[], None]
) -> None:
    """Every session of `sessionmaker` calls `bell` after committing a transaction that
    inserted outbox rows (objects or INSERT statements alike, whichever core path wrote
    them), so the sender sends them at once instead of at its next tick. Rows committed by
    another process ring nothing here: the sender's periodic look finds those."""
    info = dict(sessionmaker.kw.get("info") or {})
    info[_BELL] = bell
    sessionmaker.configure(info=info)


@event.listens_for(PanelSession, "after_flush")
def _rows_flushed(session: Session, _context: Any) -> None:
    if _BELL in session.info and any(isinstance(o, Notification) for o in session.new):
        session.info[_RANG] = True


@event.listens_for(PanelSession, "do_orm_execute")
def _rows_inserted(state: ORMExecuteState) -> None:
    if state.is_insert and _BELL in state.session.info:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) == Notification.__tablename__:
            state.session.info[_RANG] = True


@event.listens_for(PanelSession, "after_commit")
def _ring(session: Session) -> None:
    if session.info.pop(_RANG, False):
        try:
            session.info[_BELL]()
        except Exception:  # the rows are committed: the periodic look still finds them
            log.exception("outbox: ringing the sender failed")


@event.listens_for(PanelSession, "after_rollback")
def _not_rung(session: Session) -> None:
    session.info.pop(_RANG, None)


def enqueue(
    session: AsyncSession,
    chat_id: int,
    kind: str,
    payload: dict[str, Any],
    dedupe_key: str | None = None,
) -> Notification:
    row = Notification(chat_id=chat_id, kind=kind, payload=payload, dedupe_key=dedupe_key)
    session.add(row)
    return row


def balance_changed(
    session: AsyncSession, entry: LedgerEntry, *, note: str | None, currency: str
) -> None:
    """Tell the customer their balance changed by this ledger row (once per row)."""
    payload = {
        "amount": str(entry.amount),
        "balance": str(entry.balance_after),
        "note": note,
        "currency": currency,
    }
    key = f"balance:{entry.idempotency_key}"[:160]
    enqueue(session, entry.user_id, BALANCE_CHANGE, payload, dedupe_key=key)


def order_status_changed(
    session: AsyncSession,
    order: Order,
    old: str | None,
    new: str,
    *,
    service_name: str,
    refund: Any = None,
    history_id: int | None = None,
) -> None:
    """One message per status change of an order (the history row id makes it unique)."""
    session.add(
        Notification(
            **order_status_row(
                order, old, new, service_name=service_name, refund=refund, history_id=history_id
            )
        )
    )


class StatusFacts(Protocol):
    """What of an order its status message reads: an Order, or its columns as plain values."""

    @property
    def id(self) -> int: ...

    @property
    def user_id(self) -> int: ...

    @property
    def error_code(self) -> str | None: ...

    @property
    def remains(self) -> int | None: ...


def order_status_row(
    order: StatusFacts,
    old: str | None,
    new: str,
    *,
    service_name: str,
    refund: Any = None,
    history_id: int | None = None,
) -> dict[str, Any]:
    """The outbox row (its columns) of an order's status message: one builder for the
    per-order path and for status sync's bulk insert."""
    payload: dict[str, Any] = {
        "order_id": order.id,
        "service": service_name,
        "old": old,
        "new": new,
        "refund": str(refund) if refund else None,
        "error_code": order.error_code,
        "remains": order.remains,
    }
    key = f"order:{order.id}:{history_id}" if history_id else None
    return {"chat_id": order.user_id, "kind": ORDER_STATUS, "payload": payload, "dedupe_key": key}


class PlacedFacts(Protocol):
    """What of an order its confirmation's edit reads: an Order, or the claim's columns."""

    @property
    def id(self) -> int: ...

    @property
    def user_id(self) -> int: ...

    @property
    def confirm_message_id(self) -> int | None: ...


def order_placed(
    session: AsyncSession,
    order: PlacedFacts,
    *,
    service_name: str,
    status: str,
    error_code: str | None,
    refunded: Any,
) -> None:
    """Edit the customer's confirmation message to show the provider's answer (once)."""
    payload = {
        "order_id": order.id,
        "service": service_name,
        "status": status,
        "error_code": error_code,
        "refunded": str(refunded),
        "message_id": order.confirm_message_id,
    }
    enqueue(session, order.user_id, ORDER_PLACED, payload, dedupe_key=f"placed:{order.id}")


async def mass_placed(
    session: AsyncSession, chat_id: int, message_id: int, order_id: int, view: dict[str, Any]
) -> None:
    """Edit a mass confirmation message to show `view` (its orders as they are now). An edit
    of the same message not yet taken by the sender is dropped for this one: the answers
    coalesce into as few edits as the chat's pace allows (one per order would be up to 50)."""
    prefix = f"mass:{chat_id}:{message_id}:"
    await session.execute(
        update(Notification)
        .where(
            Notification.chat_id == chat_id,
            Notification.status == "pending",
            Notification.dedupe_key.like(f"{prefix}%"),
            Notification.leased_until.is_(None) | (Notification.leased_until <= utcnow()),
        )
        .values(status="skipped", last_error="replaced by a later edit")
        .execution_options(synchronize_session=False)
    )
    payload = {**view, "message_id": message_id}
    enqueue(session, chat_id, MASS_PLACED, payload, dedupe_key=f"{prefix}{order_id}")
