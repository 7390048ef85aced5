"""The notification outbox as the sender sees it: claim due rows, record what happened.

A claim is a lease: the claimed rows' `leased_until` moves `lease` into the future in one
short transaction (rows selected FOR UPDATE SKIP LOCKED on PostgreSQL), so another replica
or the next run does not take them while they are being sent. The lease is short and the
sender renews it while it works, so a process that dies while sending (kill -9, a lost
machine) holds its rows only until the lease runs out; a lone process that restarts takes
its own stale claims back at once (release_stale_claims). Every outcome ends the lease.
Rows of a chat wait behind an earlier row of that chat that is waiting for a retry or being
sent, so a chat reads its messages in order and at the pace of one sender.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from core import broadcast
from core.locks import job_lock
from db.engine import write_tx
from db.models import Notification, User
from db.types import utcnow

PENDING, SENT, SKIPPED = "pending", "sent", "skipped"
MAX_ATTEMPTS = 20  # with the backoff below: about a day of retries before giving up
MAX_BACKOFF = timedelta(hours=1)
# Long enough for a send and its bookkeeping; the sender renews it every LEASE / 3.
LEASE = timedelta(seconds=60)


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s ... capped at an hour."""
    return min(timedelta(seconds=5 * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


@dataclass(frozen=True)
class Outgoing:
    """One claimed row with what rendering needs from its recipient."""

    id: int
    chat_id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    language: str | None
    blocked: bool
    broadcast_id: int | None = None


async def claim_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    limit: int = 100,
    per_chat: int = 5,
    lease: timedelta = LEASE,
    broadcasts: bool = False,
) -> list[Outgoing]:
    """Due pending rows, oldest first, at most `per_chat` per chat, leased to the caller.

    Broadcast rows are claimed apart (broadcasts=True), so that the sender takes them only
    after everything else and at the broadcast rate; only rows of broadcasts still sending.
    """
    now = utcnow()
    earlier = aliased(Notification)
    waiting_before = exists().where(
        earlier.chat_id == Notification.chat_id,
        earlier.status == PENDING,
        earlier.id < Notification.id,
        (earlier.next_attempt_at > now) | (earlier.leased_until > now),
    )
    async with sessionmaker() as session, write_tx(session):
        # Claims are serialised across replicas (a few milliseconds each): a claim then sees
        # the leases of the one before, so two replicas never send to one chat side by side.
        await job_lock(session, "outbox_claim", wait=True)
        candidates = await session.execute(
            select(Notification.id, Notification.chat_id)
            .where(
                Notification.status == PENDING,
                Notification.next_attempt_at <= now,
                Notification.leased_until.is_(None) | (Notification.leased_until <= now),
                ~waiting_before,
                *(
                    (Notification.broadcast_id.is_not(None), broadcast.sending_only())
                    if broadcasts
                    else (Notification.broadcast_id.is_(None),)
                ),
            )
            .order_by(Notification.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=Notification)
        )
        taken: dict[int, int] = {}
        ids = []
        for row_id, chat_id in candidates:
            if taken.get(chat_id, 0) < per_chat:
                taken[chat_id] = taken.get(chat_id, 0) + 1
                ids.append(row_id)
        if not ids:
            return []
        await session.execute(
            update(Notification).where(Notification.id.in_(ids)).values(leased_until=now + lease)
        )
        rows = await session.execute(
            select(Notification, User.language, User.is_blocked)
            .outerjoin(User, User.id == Notification.chat_id)
            .where(Notification.id.in_(ids))
            .order_by(Notification.id)
        )
        return [
            Outgoing(
                n.id,
                n.chat_id,
                n.kind,
                dict(n.payload),
                n.attempts,
                lang,
                bool(blocked),
                n.broadcast_id,
            )
            for n, lang, blocked in rows
        ]


async def mark_sent(sessionmaker: async_sessionmaker[AsyncSession], row_id: int) -> None:
    async with sessionmaker() as session, write_tx(session):
        await session.execute(
            update(Notification)
            .where(Notification.id == row_id, Notification.status == PENDING)
            .values(
                status=SENT,
                sent_at=utcnow(),
                attempts=Notification.attempts + 1,
                last_error=None,
                leased_until=None,
            )
        )


async def mark_skipped(
    sessionmaker: async_sessionmaker[AsyncSession],
    row_id: int,
    reason: str,
    *,
    block_chat: int | None = None,
) -> None:
    """Never sent and never retried, the reason kept on the row; `block_chat` marks that
    user as having blocked the bot (they are reachable again once they write)."""
    async with sessionmaker() as session, write_tx(session):
        await session.execute(
            update(Notification)
            .where(Notification.id == row_id, Notification.status == PENDING)
            .values(status=SKIPPED, last_error=reason[:2000], leased_until=None)
        )
        if block_chat is not None:
            await session.execute(update(User).where(User.id == block_chat).values(is_blocked=True))


async def mark_failed(
    sessionmaker: async_sessionmaker[AsyncSession], row: Outgoing, error: str
) -> bool:
    """Count a failed attempt: retry later with backoff, or give up after MAX_ATTEMPTS
    (the row is then `skipped` with the error). Returns True if it will be retried."""
    attempts = row.attempts + 1
    retry = attempts < MAX_ATTEMPTS
    values: dict[str, Any] = {
        "attempts": attempts,
        "last_error": error[:2000],
        "leased_until": None,
    }
    if retry:
        values["next_attempt_at"] = utcnow() + backoff(attempts)
    else:
        values["status"] = SKIPPED
        values["last_error"] = f"gave up after {attempts} attempts: {error}"[:2000]
    async with sessionmaker() as session, write_tx(session):
        await session.execute(
            update(Notification)
            .where(Notification.id == row.id, Notification.status == PENDING)
            .values(**values)
        )
    return retry


async def postpone(
    sessionmaker: async_sessionmaker[AsyncSession],
    row_id: int,
    delay: float,
    reason: str | None = None,
) -> None:
    """Try again after `delay` seconds without counting an attempt (Telegram said wait, or
    an earlier message of the chat has to go first)."""
    values: dict[str, Any] = {
        "next_attempt_at": utcnow() + timedelta(seconds=delay),
        "leased_until": None,
    }
    if reason is not None:
        values["last_error"] = reason[:2000]
    async with sessionmaker() as session, write_tx(session):
        await session.execute(
            update(Notification)
            .where(Notification.id == row_id, Notification.status == PENDING)
            .values(**values)
        )


async def renew(
    sessionmaker: async_sessionmaker[AsyncSession], row_ids: list[int], lease: timedelta = LEASE
) -> None:
    """Extend the lease of the rows still being sent (finished rows have none any more)."""
    async with sessionmaker() as session, write_tx(session):
        await session.execute(
            update(Notification)
            .where(
                Notification.id.in_(row_ids),
                Notification.status == PENDING,
                Notification.leased_until.is_not(None),
            )
            .values(leased_until=utcnow() + lease)
        )


async def release_stale_claims(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """At the start of a lone process: every lease is its own predecessor's (killed while
    sending), so the rows are due again now instead of when the lease would have run out.
    Never call this with replicas: another process may be sending them."""
    async with sessionmaker() as session, write_tx(session):
        released = await session.execute(
            update(Notification)
            .where(Notification.status == PENDING, Notification.leased_until.is_not(None))
            .values(leased_until=None)
        )
    return released.rowcount or 0
