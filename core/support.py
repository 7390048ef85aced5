"""Support tickets (SPEC §11): a customer's messages reach the admins, an admin's reply to a
ticket reaches that customer, nothing else does.

A customer has at most one open ticket: what they write is added to it (a new one is opened
after the last was closed). Messages both ways go through the outbox; each message row is
keyed on the Telegram message it came from, so an update delivered twice relays it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import notify
from core.errors import Refusal
from db.engine import write_tx
from db.models import Order, Service, SupportMessage, SupportTicket, User
from db.types import utcnow

OPEN, CLOSED = "open", "closed"
TICKET = "support_ticket"  # to admins: a customer wrote
ANSWER = "support_answer"  # to the customer: an admin answered
CLOSED_NOTICE = "support_closed"  # to the customer: the ticket was closed
MAX_TEXT = 3000  # stored and relayed; a longer message is cut (with a mark)
RATE_WINDOW = timedelta(hours=1)
RECENT_ORDERS = 3
MAX_ROW_ID = 2**31 - 1  # ticket ids are 32-bit columns: a larger typed or forged id is none


async def _ticket(session: AsyncSession, ticket_id: int) -> SupportTicket | None:
    if not 0 < ticket_id <= MAX_ROW_ID:
        return None
    return await session.get(SupportTicket, ticket_id)


class SupportError(Refusal):
    """A refusal the chat explains; `code` picks the words."""


@dataclass
class Relayed:
    ticket_id: int
    opened: bool  # a new ticket (False: added to the open one, or a repeat)
    repeated: bool = False  # the same Telegram message again: nothing relayed twice


def clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


async def _recent_orders(session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(Order.id, Service.name, Order.status)
        .join(Service, Service.id == Order.service_id)
        .where(Order.user_id == user_id)
        .order_by(Order.id.desc())
        .limit(RECENT_ORDERS)
    )
    return [{"id": oid, "service": name, "status": status} for oid, name, status in rows]


async def _repeat(session: AsyncSession, source_key: str) -> SupportMessage | None:
    return await session.scalar(
        select(SupportMessage).where(SupportMessage.source_key == source_key)
    )


async def customer_writes(
    session: AsyncSession,
    user_id: int,
    text: str,
    *,
    source_key: str,
    admin_ids: frozenset[int],
    per_hour: int,
) -> Relayed:
    """Add the customer's message to their open ticket (or open one) and tell every admin.

    Raises SupportError("empty") or SupportError("rate_limited", minutes=N).
    """
    text = clip(text)
    if not text:
        raise SupportError("empty")
    try:
        async with write_tx(session):
            repeat = await _repeat(session, source_key)
            if repeat is not None:
                return Relayed(repeat.ticket_id, opened=False, repeated=True)
            now = utcnow()
            since = now - RATE_WINDOW
            recent = await session.scalars(
                select(SupportMessage.created_at)
                .where(
                    SupportMessage.author_id == user_id,
                    SupportMessage.from_admin.is_(False),
                    SupportMessage.created_at > since,
                )
                .order_by(SupportMessage.created_at)
            )
            times = list(recent)
            if len(times) >= per_hour:
                wait = times[len(times) - per_hour] + RATE_WINDOW - now
                raise SupportError("rate_limited", minutes=max(1, int(wait.total_seconds() // 60)))
            ticket = await session.scalar(
                select(SupportTicket)
                .where(SupportTicket.user_id == user_id, SupportTicket.status == OPEN)
                .order_by(SupportTicket.id.desc())
                .limit(1)
            )
            opened = ticket is None
            if ticket is None:
                ticket = SupportTicket(user_id=user_id, status=OPEN)
                session.add(ticket)
                await session.flush()
            else:
                ticket.updated_at = now
            session.add(
                SupportMessage(
                    ticket_id=ticket.id, author_id=user_id, text=text, source_key=source_key
                )
            )
            user = await session.get(User, user_id)
            payload = {
                "ticket_id": ticket.id,
                "new": opened,
                "user_id": user_id,
                "name": user.first_name if user else "",
                "username": user.username if user else None,
                "text": text,
                "orders": await _recent_orders(session, user_id),
            }
            for admin_id in sorted(admin_ids):
                notify.enqueue(session, admin_id, TICKET, payload)
            return Relayed(ticket.id, opened=opened)
    except IntegrityError:  # the same message relayed concurrently by another replica
        repeat = await _repeat(session, source_key)
        if repeat is None:
            raise
        return Relayed(repeat.ticket_id, opened=False, repeated=True)


async def admin_answers(
    session: AsyncSession, ticket_id: int, admin_id: int, text: str, *, source_key: str
) -> SupportTicket:
    """Relay an admin's answer to the ticket's customer.

    Raises SupportError("empty" | "unknown_ticket" | "closed").
    """
    text = clip(text)
    if not text:
        raise SupportError("empty")
    try:
        async with write_tx(session):
            ticket = await _ticket(session, ticket_id)
            if ticket is None:
                raise SupportError("unknown_ticket", ticket_id=ticket_id)
            if await _repeat(session, source_key) is not None:
                return ticket
            if ticket.status != OPEN:
                raise SupportError("closed", ticket_id=ticket_id)
            ticket.updated_at = utcnow()
            session.add(
                SupportMessage(
                    ticket_id=ticket.id,
                    author_id=admin_id,
                    from_admin=True,
                    text=text,
                    source_key=source_key,
                )
            )
            notify.enqueue(session, ticket.user_id, ANSWER, {"ticket_id": ticket.id, "text": text})
            return ticket
    except IntegrityError:
        ticket = await _ticket(session, ticket_id)
        if ticket is None or await _repeat(session, source_key) is None:
            raise
        return ticket


async def close_ticket(session: AsyncSession, ticket_id: int, admin_id: int) -> bool:
    """Close an open ticket and tell its customer. False if it was not open (a second tap,
    another admin first); raises SupportError("unknown_ticket") for an id that never was."""
    async with write_tx(session):
        ticket = await _ticket(session, ticket_id)
        if ticket is None:
            raise SupportError("unknown_ticket", ticket_id=ticket_id)
        closed = await session.execute(
            update(SupportTicket)
            .where(SupportTicket.id == ticket_id, SupportTicket.status == OPEN)
            .values(status=CLOSED, closed_by=admin_id, closed_at=utcnow(), updated_at=utcnow())
        )
        if not closed.rowcount:
            return False
        notify.enqueue(
            session, ticket.user_id, CLOSED_NOTICE, {"ticket_id": ticket_id}, f"closed:{ticket_id}"
        )
        return True


@dataclass
class TicketView:
    ticket: SupportTicket
    user: User
    messages: list[SupportMessage]
    total: int


async def ticket_view(session: AsyncSession, ticket_id: int, last: int = 8) -> TicketView | None:
    """A ticket with its customer and its last `last` messages (oldest first)."""
    ticket = await _ticket(session, ticket_id)
    if ticket is None:
        return None
    user = await session.get(User, ticket.user_id)
    assert user is not None
    total = await session.scalar(select(func.count()).where(SupportMessage.ticket_id == ticket_id))
    rows = await session.scalars(
        select(SupportMessage)
        .where(SupportMessage.ticket_id == ticket_id)
        .order_by(SupportMessage.id.desc())
        .limit(last)
    )
    return TicketView(ticket, user, list(rows)[::-1], int(total or 0))


async def open_tickets(session: AsyncSession, limit: int = 20) -> list[TicketView]:
    """Open tickets, the longest waiting first, each with its last message (three reads,
    however many tickets)."""
    tickets = (
        await session.execute(
            select(SupportTicket, User)
            .join(User, User.id == SupportTicket.user_id)
            .where(SupportTicket.status == OPEN)
            .order_by(SupportTicket.updated_at, SupportTicket.id)
            .limit(limit)
        )
    ).all()
    if not tickets:
        return []
    counts = await session.execute(
        select(SupportMessage.ticket_id, func.count(), func.max(SupportMessage.id))
        .where(SupportMessage.ticket_id.in_([ticket.id for ticket, _ in tickets]))
        .group_by(SupportMessage.ticket_id)
    )
    totals: dict[int, int] = {}
    last_ids: list[int] = []
    for ticket_id, total, last_id in counts:
        totals[ticket_id] = int(total)
        last_ids.append(last_id)
    last = {
        message.ticket_id: message
        for message in await session.scalars(
            select(SupportMessage).where(SupportMessage.id.in_(last_ids))
        )
    }
    return [
        TicketView(
            ticket, user, [last[ticket.id]] if ticket.id in last else [], totals.get(ticket.id, 0)
        )
        for ticket, user in tickets
    ]


async def open_ticket_count(session: AsyncSession) -> int:
    count = await session.scalar(select(func.count()).where(SupportTicket.status == OPEN))
    return int(count or 0)
