"""Mass order: many `service_id | link | quantity` lines checked at once (SPEC §3).

Checking only reads; place_mass_order places them (one balance check for the total, all or
nothing), checking every draft again inside its transaction, once per idempotency key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core import billing
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

MAX_LINES = 50


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
) -> MassPlaced:
    """All or nothing, one balance check for the total, each draft its own order (keys
    `<key>:<n>`); the same `key` returns the orders it placed first.

    With `expected_total` (the previewed total) a different total now raises
    OrderError("price_changed", total=...). Raises OrderError or billing.InsufficientFunds,
    leaving nothing behind."""
    try:
        async with write_tx(session):
            existing = await orders_by_key_prefix(session, user_id, key)
            if existing:
                return MassPlaced(existing, new=False)
            total = ZERO
            for draft in drafts:
                service = await orderable_service(session, draft.service_id)
                validate_draft(service, draft)
                total += charge_for(service.price, service.rate_basis, draft.quantity)
            if expected_total is not None and total != expected_total:
                raise OrderError("price_changed", total=total)
            balance = await session.scalar(select(User.balance).where(User.id == user_id))
            if (balance or ZERO) < total:
                raise billing.InsufficientFunds(balance or ZERO, total)
            orders = [
                await create_order(session, user_id, draft, key=f"{key}:{i}", admin_ids=admin_ids)
                for i, draft in enumerate(drafts)
            ]
            return MassPlaced(orders, new=True)
    except IntegrityError:
        # A concurrent tap committed the key between our look-up and our inserts (PostgreSQL;
        # SQLite's write lock serialises them): the rollback undid ours, theirs stand.
        existing = await orders_by_key_prefix(session, user_id, key)
        if not existing:
            raise
        return MassPlaced(existing, new=False)


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
