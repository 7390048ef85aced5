"""Broadcasts (SPEC §11): one message to many customers, delivered by the outbox.

Starting a broadcast writes one outbox row per recipient (keyed, so never twice) in the same
transaction that moves it from draft to sending. The sender takes broadcast rows only after
every other due notification and at most BROADCAST_RATE a second, so order notifications
always go first. Progress is counted from those rows (exact across restarts and replicas);
a cancel skips what is left.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import Refusal
from db.engine import write_tx
from db.models import Broadcast, Notification, Order, User
from db.types import utcnow

KIND = "broadcast"
DRAFT, SENDING, DONE, CANCELLED = "draft", "sending", "done", "cancelled"
CANCELLED_REASON = "broadcast cancelled"
ALL, ORDERED = "all", "ordered"
LANGUAGE_PREFIX = "lang_"  # no ":" (it separates callback data fields)
MAX_TEXT = 4096  # Telegram's limits on what a customer will receive
MAX_CAPTION = 1024
INSERT_CHUNK = 1000


class BroadcastError(Refusal):
    """A refused broadcast (audience, text, state); `code` picks the message the admin sees."""


def audience_filter(audience: str) -> list[ColumnElement[bool]]:
    """Who receives it: reachable users, narrowed by the audience."""
    where: list[ColumnElement[bool]] = [User.is_blocked.is_(False)]
    if audience == ORDERED:
        where.append(exists().where(Order.user_id == User.id))
    elif audience.startswith(LANGUAGE_PREFIX):
        where.append(User.language == audience.removeprefix(LANGUAGE_PREFIX))
    elif audience != ALL:
        raise BroadcastError("unknown_audience", audience=audience)
    return where


def _count_where(condition: ColumnElement[bool]) -> Any:
    """How many rows of the query meet `condition` (0 when none)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def audience_sizes(session: AsyncSession, languages: list[str]) -> dict[str, int]:
    """How many each audience reaches now: all, ordered, and lang:<code> per language (one
    read of the users)."""
    audiences = [ALL, ORDERED, *(LANGUAGE_PREFIX + code for code in languages)]
    counts = (
        await session.execute(
            select(*(_count_where(and_(*audience_filter(a))) for a in audiences)).select_from(User)
        )
    ).one()
    return {audience: int(count) for audience, count in zip(audiences, counts, strict=True)}


async def create_draft(
    session: AsyncSession,
    admin_id: int,
    *,
    text: str | None,
    photo_file_id: str | None = None,
    visible_length: int = 0,
) -> Broadcast:
    """A draft from the admin's message (HTML text, or a photo with its caption).

    `visible_length` is the length Telegram counts (without tags): a caption over 1024 or a
    text over 4096 could never be delivered, so it is refused here.
    """
    limit = MAX_CAPTION if photo_file_id else MAX_TEXT
    if not photo_file_id and not (text or "").strip():
        raise BroadcastError("empty")
    if visible_length > limit:
        raise BroadcastError("too_long", limit=limit, length=visible_length)
    async with write_tx(session):
        draft = Broadcast(admin_id=admin_id, text=text, photo_file_id=photo_file_id)
        session.add(draft)
        await session.flush()
        return draft


async def set_button(session: AsyncSession, broadcast_id: int, text: str, url: str) -> None:
    async with write_tx(session):
        await session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.status == DRAFT)
            .values(button_text=text, button_url=url)
        )


MAX_ROW_ID = 2**31 - 1  # 32-bit ids: a larger forged id is none


async def get(session: AsyncSession, broadcast_id: int) -> Broadcast | None:
    if not 0 < broadcast_id <= MAX_ROW_ID:
        return None
    return await session.get(Broadcast, broadcast_id, populate_existing=True)


async def start(
    session: AsyncSession,
    broadcast_id: int,
    admin_id: int,
    audience: str,
    *,
    progress_chat_id: int,
    progress_message_id: int,
) -> Broadcast:
    """Queue the draft for its audience: one outbox row per recipient, once.

    Raises BroadcastError("not_draft") when it was already started or cancelled (a double
    tap on Send) and ("unknown") for an id that is not this admin's draft.
    """
    where = audience_filter(audience)
    async with write_tx(session):
        broadcast = None
        if 0 < broadcast_id <= MAX_ROW_ID:
            broadcast = await session.get(Broadcast, broadcast_id, with_for_update=True)
        if broadcast is None or broadcast.admin_id != admin_id:
            raise BroadcastError("unknown")
        if broadcast.status != DRAFT:
            raise BroadcastError("not_draft", status=broadcast.status)
        recipients = list(await session.scalars(select(User.id).where(*where).order_by(User.id)))
        payload = {"broadcast_id": broadcast_id}
        for start_at in range(0, len(recipients), INSERT_CHUNK):
            chunk = recipients[start_at : start_at + INSERT_CHUNK]
            await session.execute(
                insert(Notification),
                [
                    {
                        "chat_id": user_id,
                        "kind": KIND,
                        "payload": payload,
                        "broadcast_id": broadcast_id,
                        "dedupe_key": f"broadcast:{broadcast_id}:{user_id}",
                    }
                    for user_id in chunk
                ],
            )
        broadcast.status = SENDING if recipients else DONE
        broadcast.audience = audience
        broadcast.total = len(recipients)
        broadcast.progress_chat_id = progress_chat_id
        broadcast.progress_message_id = progress_message_id
        if not recipients:
            broadcast.finished_at = utcnow()
        return broadcast


async def cancel(session: AsyncSession, broadcast_id: int) -> bool:
    """Stop a broadcast: what was not sent yet never is. False if it was not sending."""
    if not 0 < broadcast_id <= MAX_ROW_ID:
        return False
    async with write_tx(session):
        stopped = await session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.status.in_([DRAFT, SENDING]))
            .values(status=CANCELLED, finished_at=utcnow())
        )
        if not stopped.rowcount:
            return False
        await session.execute(
            update(Notification)
            .where(Notification.broadcast_id == broadcast_id, Notification.status == "pending")
            .values(status="skipped", last_error=CANCELLED_REASON)
        )
        return True


@dataclass(frozen=True)
class Progress:
    broadcast_id: int
    status: str
    total: int
    sent: int = 0
    blocked: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def left(self) -> int:
        return max(self.total - self.sent - self.blocked - self.failed - self.cancelled, 0)

    @property
    def finished(self) -> bool:
        return self.status in (DONE, CANCELLED)

    def shown(self) -> str:
        """What the admin's message shows, as a short key (an edit only when it changes)."""
        return f"{self.status}:{self.sent}:{self.blocked}:{self.failed}:{self.left}"


async def progress(session: AsyncSession, broadcast: Broadcast) -> Progress:
    skipped = Notification.status == "skipped"
    cancelled = and_(skipped, Notification.last_error == CANCELLED_REASON)
    sent, stopped, blocked, finished = (
        await session.execute(
            select(
                _count_where(Notification.status == "sent"),
                _count_where(cancelled),
                _count_where(and_(skipped, ~cancelled, User.is_blocked.is_(True))),
                func.count(),
            )
            .outerjoin(User, User.id == Notification.chat_id)
            .where(Notification.broadcast_id == broadcast.id, Notification.status != "pending")
        )
    ).one()
    return Progress(
        broadcast.id,
        broadcast.status,
        broadcast.total,
        sent=int(sent),
        blocked=int(blocked),
        failed=int(finished) - int(sent) - int(stopped) - int(blocked),
        cancelled=int(stopped),
    )


async def progress_due(session: AsyncSession) -> list[tuple[Broadcast, Progress]]:
    """Broadcasts whose admin message is behind, with what it should show: each is finished
    first when nothing is left, then claimed for one edit (a conditional update, so two
    replicas never edit the same progress twice)."""
    candidates = await session.scalars(
        select(Broadcast).where(
            Broadcast.progress_message_id.is_not(None),
            Broadcast.status != DRAFT,
            func.coalesce(Broadcast.progress_shown, "").not_like(DONE + ":%"),
            func.coalesce(Broadcast.progress_shown, "").not_like(CANCELLED + ":%"),
        )
    )
    due = []
    for broadcast in list(candidates):
        current = await progress(session, broadcast)
        if current.status == SENDING and current.left == 0:
            async with write_tx(session):
                await session.execute(
                    update(Broadcast)
                    .where(Broadcast.id == broadcast.id, Broadcast.status == SENDING)
                    .values(status=DONE, finished_at=utcnow())
                )
            broadcast = await get(session, broadcast.id) or broadcast
            current = await progress(session, broadcast)
        shown = current.shown()
        async with write_tx(session):
            claimed = await session.execute(
                update(Broadcast)
                .where(
                    Broadcast.id == broadcast.id,
                    func.coalesce(Broadcast.progress_shown, "") != shown,
                )
                .values(progress_shown=shown)
            )
        if claimed.rowcount:
            due.append((broadcast, current))
    return due


async def contents(session: AsyncSession, ids: set[int]) -> dict[int, Broadcast]:
    """The broadcasts of a batch of outbox rows, by id."""
    if not ids:
        return {}
    rows = await session.scalars(select(Broadcast).where(Broadcast.id.in_(ids)))
    return {row.id: row for row in rows}


def sending_only() -> ColumnElement[bool]:
    """Outbox rows of broadcasts still sending (for the sender's claim)."""
    return exists().where(
        and_(Broadcast.id == Notification.broadcast_id, Broadcast.status == SENDING)
    )
