"""The notification outbox as the sender sees it: claim due rows, record what happened.

A claim is a lease: the claimed rows' `leased_until` moves `lease` into the future in one
short transaction (rows selected FOR UPDATE SKIP LOCKED on PostgreSQL), so another replica
or the next run does not take them while they are being sent. The lease is short and the
sender renews it while it works, so a process that dies while sending (kill -9, a lost
machine) holds its rows only until the lease runs out; a lone process that restarts takes
its own stale claims back at once (release_stale_claims). Every outcome ends the lease;
outcomes are written in batches (Outcomes), a sent row keeping its lease until then.
Rows of a chat wait behind an earlier row of that chat that is waiting for a retry or being
sent, so a chat reads its messages in order and at the pace of one sender.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from core import broadcast
from core.locks import job_lock
from db.engine import write_tx
from db.models import Broadcast, Notification, User
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


# The sender's statements, built once (Core, no ORM objects): the sender runs them many
# times a second under load, and building and caching a statement costs more than running it.
_N = Notification.__table__
_EARLIER = _N.alias("earlier")
_WAITING_BEFORE = exists().where(
    _EARLIER.c.chat_id == _N.c.chat_id,
    _EARLIER.c.status == PENDING,
    _EARLIER.c.id < _N.c.id,
    (_EARLIER.c.next_attempt_at > bindparam("now")) | (_EARLIER.c.leased_until > bindparam("now")),
)


def _candidates(broadcasts: bool) -> Select[Any]:
    """Due rows, oldest first, with what rendering needs from the recipient; locked on
    PostgreSQL (SKIP LOCKED: another replica's claim in flight is passed over)."""
    users = User.__table__
    kind = (
        (_N.c.broadcast_id.is_not(None), broadcast.sending_only())
        if broadcasts
        else (_N.c.broadcast_id.is_(None),)
    )
    return (
        select(_N.c.id, _N.c.chat_id, _N.c.kind, _N.c.payload, _N.c.attempts)
        .add_columns(users.c.language, users.c.is_blocked, _N.c.broadcast_id)
        .select_from(_N.outerjoin(users, users.c.id == _N.c.chat_id))
        .where(
            _N.c.status == PENDING,
            _N.c.next_attempt_at <= bindparam("now"),
            _N.c.leased_until.is_(None) | (_N.c.leased_until <= bindparam("now")),
            ~_WAITING_BEFORE,
            *kind,
        )
        .order_by(_N.c.id)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True, of=_N)
    )


_CANDIDATES = {False: _candidates(False), True: _candidates(True)}
_IDS = bindparam("ids", expanding=True)
_LEASE = update(_N).where(_N.c.id.in_(_IDS)).values(leased_until=bindparam("until"))
_PENDING_ROWS = (_N.c.id.in_(_IDS), _N.c.status == PENDING)
_ONE_PENDING = (_N.c.id == bindparam("row"), _N.c.status == PENDING)
_SENT = (
    update(_N)
    .where(*_ONE_PENDING)
    .values(
        status=SENT,
        sent_at=bindparam("at"),
        attempts=_N.c.attempts + 1,
        last_error=None,
        leased_until=None,
    )
)
_SKIPPED = (
    update(_N)
    .where(*_ONE_PENDING)
    .values(status=SKIPPED, last_error=bindparam("reason"), leased_until=None)
)
_FAILED = (
    update(_N)
    .where(*_ONE_PENDING)
    .values(
        status=bindparam("new_status"),
        attempts=bindparam("new_attempts"),
        last_error=bindparam("reason"),
        next_attempt_at=bindparam("retry_at"),
        leased_until=None,
    )
)
_POSTPONED = (
    update(_N)
    .where(*_ONE_PENDING)
    .values(
        next_attempt_at=bindparam("retry_at"),
        last_error=func.coalesce(bindparam("reason", type_=_N.c.last_error.type), _N.c.last_error),
        leased_until=None,
    )
)
_RENEW = (
    update(_N)
    .where(*_PENDING_ROWS, _N.c.leased_until.is_not(None))
    .values(leased_until=bindparam("until"))
)


@dataclass
class Outcomes:
    """What happened to claimed rows, written later in one transaction (``record``, or the
    next claim's): one statement (executemany) per kind of outcome, all sent rows in one.
    Until then the rows stay leased to this sender, so no replica takes them; a write that
    fails keeps the outcomes for the next one (nothing is lost, nothing sent twice). Each
    outcome applies only to a row still pending, as each did one by one."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    postponed: list[dict[str, Any]] = field(default_factory=list)
    blocked_chats: set[int] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.sent or self.skipped or self.failed or self.postponed)

    def row_ids(self) -> set[int]:
        rows = (*self.sent, *self.skipped, *self.failed, *self.postponed)
        return {outcome["row"] for outcome in rows}

    def mark_sent(self, row_id: int) -> None:
        self.sent.append({"row": row_id, "at": utcnow()})

    def mark_skipped(self, row_id: int, reason: str, *, block_chat: int | None = None) -> None:
        """Never sent and never retried, the reason kept on the row; `block_chat` marks that
        user as having blocked the bot (they are reachable again once they write)."""
        self.skipped.append({"row": row_id, "reason": reason[:2000]})
        if block_chat is not None:
            self.blocked_chats.add(block_chat)

    def mark_failed(self, row: Outgoing, error: str) -> datetime | None:
        """Count a failed attempt: retry later with backoff, or give up after MAX_ATTEMPTS
        (the row is then `skipped` with the error). Returns when it will be retried."""
        attempts = row.attempts + 1
        now = utcnow()
        retry_at = now + backoff(attempts) if attempts < MAX_ATTEMPTS else None
        reason = error if retry_at else f"gave up after {attempts} attempts: {error}"
        self.failed.append(
            {
                "row": row.id,
                "new_status": PENDING if retry_at else SKIPPED,
                "new_attempts": attempts,
                "reason": reason[:2000],
                "retry_at": retry_at or now,
            }
        )
        return retry_at

    def postpone(self, row_id: int, delay: float, reason: str | None = None) -> datetime:
        """Try again after `delay` seconds without counting an attempt (Telegram said wait,
        or an earlier message of the chat has to go first)."""
        retry_at = utcnow() + timedelta(seconds=delay)
        reason = reason[:2000] if reason is not None else None
        self.postponed.append({"row": row_id, "retry_at": retry_at, "reason": reason})
        return retry_at

    async def write(self, session: AsyncSession) -> None:
        """Inside the caller's write transaction."""
        connection = await session.connection()
        for statement, rows in (
            (_SENT, self.sent),
            (_SKIPPED, self.skipped),
            (_FAILED, self.failed),
            (_POSTPONED, self.postponed),
        ):
            if rows:  # one statement (executemany) for every row of an outcome
                await connection.execute(statement, rows)
        if self.blocked_chats:  # through the session: the users' cache version sees it
            await session.execute(
                update(User).where(User.id.in_(sorted(self.blocked_chats))).values(is_blocked=True)
            )

    def take(self) -> Outcomes:
        """These outcomes, leaving this one empty (to write them elsewhere)."""
        taken = Outcomes(self.sent, self.skipped, self.failed, self.postponed, self.blocked_chats)
        self.sent, self.skipped, self.failed, self.postponed = [], [], [], []
        self.blocked_chats = set()
        return taken

    def put_back(self, other: Outcomes) -> None:
        """Outcomes whose write failed, kept for the next one (earlier ones first)."""
        self.sent[:0] = other.sent
        self.skipped[:0] = other.skipped
        self.failed[:0] = other.failed
        self.postponed[:0] = other.postponed
        self.blocked_chats |= other.blocked_chats


async def record(sessionmaker: async_sessionmaker[AsyncSession], outcomes: Outcomes) -> None:
    """Write `outcomes` in one short transaction."""
    if not outcomes:
        return
    async with sessionmaker() as session, write_tx(session):
        await outcomes.write(session)


@dataclass
class Claim:
    """What one claim took: rows to send first, then broadcast rows with their broadcasts."""

    rows: list[Outgoing] = field(default_factory=list)
    broadcast_rows: list[Outgoing] = field(default_factory=list)
    broadcasts: dict[int, Broadcast] = field(default_factory=dict)


async def claim(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    limit: int = 100,
    per_chat: int = 5,
    lease: timedelta = LEASE,
    broadcast_limit: int = 0,
    outcomes: Outcomes | None = None,
) -> Claim:
    """Due pending rows, oldest first, at most `per_chat` per chat, leased to the caller; then,
    when fewer than `limit` were due, up to `broadcast_limit` rows of broadcasts still sending
    (one per chat), which the sender sends after everything else and at the broadcast rate.

    `outcomes` of earlier sends are written first, in the same transaction (their chats may
    have more rows due behind them): the sender's whole bookkeeping of a pass is this one
    transaction.
    """
    now = utcnow()
    taken = Claim()
    async with sessionmaker() as session, write_tx(session):
        if outcomes:
            await outcomes.write(session)
        connection = await session.connection()
        # Claims are serialised across replicas (a few milliseconds each): a claim then sees
        # the leases of the one before, so two replicas never send to one chat side by side.
        await job_lock(session, "outbox_claim", wait=True)
        if limit:
            taken.rows = await _take(connection, False, now, limit, per_chat)
        if broadcast_limit and (not limit or len(taken.rows) < limit):
            taken.broadcast_rows = await _take(connection, True, now, broadcast_limit, 1)
            ids = {row.broadcast_id for row in taken.broadcast_rows if row.broadcast_id}
            taken.broadcasts = await broadcast.contents(session, ids)
        leased = [row.id for row in (*taken.rows, *taken.broadcast_rows)]
        if leased:
            await connection.execute(_LEASE, {"ids": leased, "until": now + lease})
    return taken


async def _take(
    connection: AsyncConnection, broadcasts: bool, now: datetime, limit: int, per_chat: int
) -> list[Outgoing]:
    candidates = await connection.execute(_CANDIDATES[broadcasts], {"now": now, "limit": limit})
    per_chat_taken: dict[int, int] = {}
    rows = []
    for row_id, chat_id, kind, payload, attempts, language, blocked, broadcast_id in candidates:
        if per_chat_taken.get(chat_id, 0) < per_chat:
            per_chat_taken[chat_id] = per_chat_taken.get(chat_id, 0) + 1
            payload = dict(payload)
            rows.append(
                Outgoing(
                    row_id, chat_id, kind, payload, attempts, language, bool(blocked), broadcast_id
                )
            )
    return rows


async def renew(
    sessionmaker: async_sessionmaker[AsyncSession], row_ids: list[int], lease: timedelta = LEASE
) -> None:
    """Extend the lease of the rows still being sent (finished rows have none any more)."""
    async with sessionmaker() as session, write_tx(session):
        connection = await session.connection()
        await connection.execute(_RENEW, {"ids": row_ids, "until": utcnow() + lease})


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
