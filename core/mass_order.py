"""Mass order: many `service_id | link | quantity` lines checked at once (SPEC §3).

Checking only reads; place_mass_order places them (one balance check for the total, all or
nothing), checking every draft again inside its transaction, once per idempotency key.

The confirmation shows the placed orders, LINES_PER_MESSAGE to a message; each order keeps
the id of the message showing it (`confirm_message_id`), and a provider's answer edits that
message (`answered`, in the transaction that applies the answer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core import billing, notify
from core.links import accepts_username, check_link
from core.money import ZERO
from core.ordering import (
    OrderDraft,
    OrderError,
    create_order,
    orderable_service,
    validate_draft,
)
from core.pricing import charge_for, check_quantity, input_kind, parse_quantity
from db.engine import write_tx
from db.models import Order, Service, User
from db.types import utcnow
from telemetry import metrics

MAX_LINES = 50
# Orders shown in one confirmation message: with every line's outcome (a refusal's reason)
# it stays well under Telegram's 4096 characters, and up to this many need no extra message.
LINES_PER_MESSAGE = 15
KEY_PREFIX = "mass:"
# Orders of a later confirmation message wait this long for their message (shown_in) before
# the periodic job may send them: answered before it, they would be told by a status message.
SHOWN_WITHIN = timedelta(seconds=30)


def mass_key(user_id: int, nonce: str) -> str:
    """The idempotency key of one mass confirmation; its orders' keys are `<key>:<n>`."""
    return f"{KEY_PREFIX}{user_id}:{nonce}"


class Keyed(Protocol):
    """An order as is_mass reads it: an Order, or a claim's columns."""

    @property
    def idempotency_key(self) -> str | None: ...


def is_mass(order: Keyed) -> bool:
    return (order.idempotency_key or "").startswith(KEY_PREFIX)


class TooManyLines(Exception):
    def __init__(self, count: int, limit: int) -> None:
        super().__init__(f"{count} lines, at most {limit}")
        self.count = count
        self.limit = limit


@dataclass(frozen=True)
class MassLine:
    """One line of the customer's text: a draft to place, or the problem with it.

    problem: bad_format | unknown_service | needs_list | needs_chat | not_a_link | wrong_platform |
    too_long | not_a_number | below_min | above_max | step
    """

    number: int  # 1-based line number in the text the customer sent
    draft: OrderDraft | None = None
    service_name: str = ""
    charge: Decimal = ZERO
    problem: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MassPreview:
    lines: list[MassLine]

    @property
    def valid(self) -> list[MassLine]:
        return [line for line in self.lines if line.problem is None]

    @property
    def bad(self) -> list[MassLine]:
        return [line for line in self.lines if line.problem is not None]

    @property
    def total(self) -> Decimal:
        return sum((line.charge for line in self.valid), ZERO)


async def check_mass_order(
    session: AsyncSession, text: str, *, max_lines: int = MAX_LINES
) -> MassPreview:
    """Every non-empty line checked; raises TooManyLines past `max_lines`."""
    numbered = [
        (number, line.strip())
        for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1)
        if line.strip()
    ]
    if len(numbered) > max_lines:
        raise TooManyLines(len(numbered), max_lines)
    services: dict[int, Service | None] = {}
    lines = []
    for number, line in numbered:
        lines.append(await _check_line(session, number, line, services))
    return MassPreview(lines)


async def _check_line(
    session: AsyncSession, number: int, line: str, services: dict[int, Service | None]
) -> MassLine:
    parts = [part.strip() for part in line.split("|")]
    service_text = parts[0].lstrip("#") if parts else ""
    if len(parts) not in (2, 3) or not service_text.isdecimal() or len(service_text) > 12:
        return MassLine(number, problem="bad_format")
    service_id = int(service_text)
    if service_id not in services:
        try:
            services[service_id] = await orderable_service(session, service_id)
        except OrderError:
            services[service_id] = None
    service = services[service_id]
    if service is None:
        return MassLine(number, problem="unknown_service", details={"service_id": service_id})
    kind = input_kind(service.type)
    name = service.name
    if kind == "lines":
        return MassLine(number, service_name=name, problem="needs_list")
    if kind == "subscription":  # username, per-post range, posts ...: the chat asks them
        return MassLine(number, service_name=name, problem="needs_chat")
    if len(parts) == 2 and kind != "package":
        return MassLine(number, service_name=name, problem="bad_format")
    platform = service.category.platform
    link = check_link(parts[1], platform, username_ok=accepts_username(name, platform))
    if link.link is None:
        return MassLine(
            number, service_name=name, problem=link.problem, details={"platform": platform}
        )
    quantity = 1
    if kind != "package":
        parsed = parse_quantity(parts[2])
        if parsed is None:
            return MassLine(number, service_name=name, problem="not_a_number")
        problem = check_quantity(parsed, service.min, service.max, service.step)
        if problem is not None:
            return MassLine(
                number,
                service_name=name,
                problem=problem.code,
                details={"min": service.min, "max": service.max, "step": service.step},
            )
        quantity = parsed
    return MassLine(
        number,
        draft=OrderDraft(service.id, link.link, quantity),
        service_name=name,
        charge=charge_for(service.price, service.rate_basis, quantity),
    )


@dataclass(frozen=True)
class MassPlaced:
    """The orders a mass confirmation stands for; `new` is False when its key had placed
    them before (a double tap, a replay, a concurrent tap on another replica)."""

    orders: list[Order]
    new: bool


async def place_mass_order(
    session: AsyncSession,
    user_id: int,
    drafts: list[OrderDraft],
    *,
    key: str,
    admin_ids: frozenset[int] = frozenset(),
    expected_total: Decimal | None = None,
    confirm_message_id: int | None = None,
) -> MassPlaced:
    """All or nothing, one balance check for the total, each draft its own order (keys
    `<key>:<n>`); the same `key` returns the orders it placed first. The orders of the first
    confirmation message (`pages`) are shown in `confirm_message_id`; the others get theirs
    with `shown_in` once sent.

    With `expected_total` (the previewed total) a different total now raises
    OrderError("price_changed", total=...). Raises OrderError or billing.InsufficientFunds,
    leaving nothing behind."""
    try:
        async with write_tx(session):
            existing = await orders_by_key_prefix(session, user_id, key)
            if existing:
                return MassPlaced(existing, new=False)
            total = ZERO
            services: dict[int, Service] = {}  # each service read once, not once per line
            for draft in drafts:
                if draft.service_id not in services:
                    services[draft.service_id] = await orderable_service(session, draft.service_id)
                service = services[draft.service_id]
                validate_draft(service, draft)
                total += charge_for(service.price, service.rate_basis, draft.quantity)
            if expected_total is not None and total != expected_total:
                raise OrderError("price_changed", total=total)
            balance = await session.scalar(select(User.balance).where(User.id == user_id))
            if (balance or ZERO) < total:
                raise billing.InsufficientFunds(balance or ZERO, total)
            later = utcnow() + SHOWN_WITHIN
            orders = [
                await create_order(
                    session,
                    user_id,
                    draft,
                    key=f"{key}:{i}",
                    admin_ids=admin_ids,
                    confirm_message_id=confirm_message_id if i < LINES_PER_MESSAGE else None,
                    service=services[draft.service_id],
                )
                for i, draft in enumerate(drafts)
            ]
            for order in orders[LINES_PER_MESSAGE:]:
                order.next_attempt_at = later
    except IntegrityError:
        # A concurrent tap committed the key between our look-up and our inserts (PostgreSQL;
        # SQLite's write lock serialises them): the rollback undid ours, theirs stand.
        existing = await orders_by_key_prefix(session, user_id, key)
        if not existing:
            raise
        return MassPlaced(existing, new=False)
    for order in orders:
        metrics.order_placed(order.provider_id)
    return MassPlaced(orders, new=True)


async def orders_by_key_prefix(session: AsyncSession, user_id: int, key: str) -> list[Order]:
    """The orders one mass confirmation placed (keys `<key>:<n>`), by id."""
    rows = await session.scalars(
        select(Order)
        .where(Order.idempotency_key.like(f"{key}:%"), Order.user_id == user_id)
        .options(selectinload(Order.service))
        .order_by(Order.id)
        .execution_options(populate_existing=True)
    )
    return list(rows)


def pages(orders: list[Order]) -> list[list[Order]]:
    """The orders as the confirmation shows them: LINES_PER_MESSAGE to a message."""
    return [orders[i : i + LINES_PER_MESSAGE] for i in range(0, len(orders), LINES_PER_MESSAGE)]


def page_view(orders: list[Order], page: list[Order]) -> dict[str, Any]:
    """What one confirmation message shows (also a notification's payload): the count on
    the first message, each order's outcome, and whether it is the last (the one with the
    buttons). `orders` are all the confirmation placed, with their services."""
    return {
        "count": len(orders) if page[0].id == orders[0].id else None,
        "last": page[-1].id == orders[-1].id,
        "lines": [
            {
                "order_id": order.id,
                "service": order.service.name,
                "status": order.status,
                "error_code": order.error_code,
                "refunded": str(order.refunded),
            }
            for order in page
        ],
    }


async def shown_in(session: AsyncSession, user_id: int, messages: dict[int, list[int]]) -> None:
    """The orders of the later confirmation messages (message id -> order ids): answers
    about them edit those messages, and they may be sent now."""
    async with write_tx(session):
        for message_id, order_ids in messages.items():
            await session.execute(
                update(Order)
                .where(Order.id.in_(order_ids), Order.user_id == user_id)
                .values(
                    confirm_message_id=message_id,
                    # The hold ends (an order already tried keeps its own retry time).
                    next_attempt_at=case((Order.attempts == 0, None), else_=Order.next_attempt_at),
                )
            )


async def answered(session: AsyncSession, order: Order) -> None:
    """A provider answered about an order of a mass confirmation (in the transaction that
    applied the answer): its confirmation message is edited to show every order it holds
    as they are now. Holding the customer's row serialises these snapshots, so a later edit
    never shows an older state (two lanes answering at once on PostgreSQL)."""
    message_id = order.confirm_message_id
    assert message_id is not None and order.idempotency_key is not None
    await session.execute(select(User.id).where(User.id == order.user_id).with_for_update())
    key = order.idempotency_key.rsplit(":", 1)[0]
    orders = await orders_by_key_prefix(session, order.user_id, key)
    page = [o for o in orders if o.confirm_message_id == message_id]
    view = page_view(orders, page)
    await notify.mass_placed(session, order.user_id, message_id, order.id, view)
