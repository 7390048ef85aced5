"""Placing orders and changing their status (SPEC §5): one place for the order lifecycle.

place_order charges and creates in one transaction, once per idempotency key: it answers
"already placed" itself, also when a concurrent tap wins the unique key. change_status writes
the history row, the customer notification and any refund together, so no caller can forget
one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager, selectinload

from core import alerts, billing
from core.catalog_cache import ServiceView, orderable, read_service
from core.errors import Refusal
from core.money import ZERO
from core.order_fields import MAX_POSTS, MAX_RUNS, MIN_POSTS, MIN_RUNS, dripfeed_of, subscription_of
from core.pricing import (
    charge_for,
    check_quantity,
    input_kind,
    subscription_charge,
)
from core.statuses import OrderStatus
from db.engine import write_tx
from db.models import Category, Order, OrderStatusChange, Service, User
from db.types import utcnow
from telemetry import metrics

# A service as the chat's steps hold it (cached) or as placing an order reads it.
AnyService = Service | ServiceView


class OrderError(Refusal):
    """A customer-facing refusal; `code` picks the message the UI shows."""


@dataclass
class OrderDraft:
    """What the customer asked for. Drip-feed: `quantity` is per run and extra carries runs
    and interval (core.order_fields.DripFeed); subscriptions: `quantity` is the posts and
    extra carries the subscription (core.order_fields.Subscription), `link` its username."""

    service_id: int
    link: str
    quantity: int
    extra: dict[str, Any] = field(default_factory=dict)  # {"comments": [...]} for line types

    @property
    def units(self) -> int:
        """What the order stands for in total: runs × quantity for drip-feed."""
        drip = dripfeed_of(self.extra)
        return self.quantity * drip.runs if drip else self.quantity


def draft_charge(service: AnyService, draft: OrderDraft) -> Decimal:
    """What the customer pays: price × units / 1000 (drip-feed: every run), a package's flat
    price, or a subscription's posts at the per-post maximum."""
    sub = subscription_of(draft.extra)
    if sub is not None:
        return subscription_charge(service.price, service.rate_basis, sub.max, sub.posts)
    return charge_for(service.price, service.rate_basis, draft.units)


@dataclass
class Quote:
    service: AnyService
    quantity: int
    charge: Decimal
    balance: Decimal

    @property
    def balance_after(self) -> Decimal:
        return self.balance - self.charge

    @property
    def missing(self) -> Decimal:
        return max(ZERO, self.charge - self.balance)


async def orderable_service(session: AsyncSession, service_id: int) -> Service:
    """The service with its category, read now (placing an order; the chat's steps read
    the cached catalogue, core.catalog_cache)."""
    service = await session.scalar(
        select(Service)
        .join(Category)
        .where(Service.id == service_id, *orderable())
        .options(contains_eager(Service.category))
    )
    if service is None or input_kind(service.type) is None:
        raise OrderError("service_unavailable", service_id=service_id)
    return service


def validate_draft(service: AnyService, draft: OrderDraft) -> None:
    kind = input_kind(service.type)
    if kind == "subscription":
        _validate_subscription(service, draft)
        return
    drip = dripfeed_of(draft.extra)
    if drip is not None and (
        not service.dripfeed or kind != "quantity" or not MIN_RUNS <= drip.runs <= MAX_RUNS
    ):
        raise OrderError("dripfeed_unavailable", service_id=service.id)
    # Drip-feed: each run's quantity lies within the service's min/max.
    problem = check_quantity(draft.quantity, service.min, service.max, service.step)
    if problem is not None and kind != "package":
        raise OrderError(
            f"quantity_{problem.code}", min=service.min, max=service.max, step=service.step
        )


def _validate_subscription(service: AnyService, draft: OrderDraft) -> None:
    sub = subscription_of(draft.extra)
    if sub is None or not MIN_POSTS <= sub.posts <= MAX_POSTS or draft.quantity != sub.posts:
        raise OrderError("subscription_incomplete", service_id=service.id)
    if not service.min <= sub.min <= sub.max <= service.max:
        raise OrderError("subscription_range", min=service.min, max=service.max)


async def quote(
    session: AsyncSession,
    user_id: int,
    draft: OrderDraft,
    *,
    service: AnyService | None = None,
    balance: Decimal | None = None,
) -> Quote:
    """The charge and the balance it comes from. A step that already loaded the service (and
    the user row) passes them, so a quote costs no further statement."""
    if service is None or service.id != draft.service_id:
        service = await orderable_service(session, draft.service_id)
    validate_draft(service, draft)
    if balance is None:
        balance = await session.scalar(_BALANCE, {"user_id": user_id}) or ZERO
    return Quote(service, draft.units, draft_charge(service, draft), balance)


_BALANCE = select(User.balance).where(User.id == bindparam("user_id"))  # built once


@dataclass(frozen=True)
class Placed:
    """The order a confirmation stands for; `new` is False when its key had placed it before
    (a double tap, a replay, a concurrent tap on another replica)."""

    order: Order
    new: bool


async def place_order(
    session: AsyncSession,
    user_id: int,
    draft: OrderDraft,
    *,
    key: str,
    admin_ids: frozenset[int] = frozenset(),
    expected_charge: Decimal | None = None,
    confirm_message_id: int | None = None,
) -> Placed:
    """Charge and create one order; the same `key` returns the order it placed first.

    With `expected_charge` (what the customer confirmed) a different charge now (the price
    changed meanwhile) raises OrderError("price_changed", charge=...) instead of charging it.
    Raises OrderError or billing.InsufficientFunds, leaving nothing behind.

    One write transaction of five statements: the service as it is now, the order (its
    insert finds a key placed before, so there is no look-up first), the debit, its ledger
    row and the order's first history row.
    """
    async with write_tx(session):
        service = await read_service(session, draft.service_id)
        if service is None or input_kind(service.type) is None:
            raise OrderError("service_unavailable", service_id=draft.service_id)
        values = new_order_values(service, user_id, draft, key, expected_charge, confirm_message_id)
        insert_order = _INSERT_ORDER[session.get_bind().dialect.name]
        order_id = await session.scalar(insert_order, values)
        if order_id is not None:
            # The row as written (not attached to the session: read it, never add it).
            order = Order(id=order_id, **values)
            await _charge_and_record(session, order, service.name, admin_ids)
    if order_id is None:  # the key placed an order before (a double tap, a concurrent tap)
        existing = await order_by_key(session, user_id, key)
        if existing is None:
            raise OrderError("service_unavailable", service_id=draft.service_id)
        return Placed(existing, new=False)
    metrics.order_placed(order.provider_id)  # committed: a rolled-back tap is not counted
    return Placed(order, new=True)


# INSERT INTO orders ... ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, per dialect:
# a key committed by a concurrent tap (waited for, on PostgreSQL) inserts nothing and returns
# no row instead of failing the transaction. Built once, like core.billing's statements.
_INSERT_ORDER = {
    name: build(Order.__table__)
    .on_conflict_do_nothing(index_elements=[Order.__table__.c.idempotency_key])
    .returning(Order.__table__.c.id)
    for name, build in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
}
_RECORD_NEW = insert(OrderStatusChange.__table__)


def new_order_values(
    service: AnyService,
    user_id: int,
    draft: OrderDraft,
    key: str,
    expected_charge: Decimal | None,
    confirm_message_id: int | None,
) -> dict[str, Any]:
    """The new order's row, the draft checked against the service and charged from it."""
    validate_draft(service, draft)
    charge = draft_charge(service, draft)
    if expected_charge is not None and charge != expected_charge:
        raise OrderError("price_changed", charge=charge)
    manual = service.mode == "manual" or service.provider_id is None
    now = utcnow()
    return {
        "user_id": user_id,
        "service_id": service.id,
        "provider_id": service.provider_id,
        "provider_service_id": service.provider_service_id,
        "link": draft.link,
        "quantity": draft.units,
        "extra": draft.extra or None,
        "charge": charge,
        "status": OrderStatus.MANUAL if manual else OrderStatus.QUEUED,
        "idempotency_key": key,
        "confirm_message_id": confirm_message_id,
        "refunded": ZERO,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
        "status_changed_at": now,
    }


async def _charge_and_record(
    session: AsyncSession, order: Order, service_name: str, admin_ids: frozenset[int]
) -> None:
    """What follows the new order's insert: its charge, its first history row, and the
    admins' alert for a manual one."""
    if order.charge > 0:  # a free service (a provider rate of 0 imported) moves no money
        await billing.debit(
            session,
            order.user_id,
            order.charge,
            key=f"charge:{order.id}",
            order_id=order.id,
            fresh=True,
        )
    history = {"order_id": order.id, "old_status": None, "new_status": order.status}
    await session.execute(_RECORD_NEW, {**history, "created_at": utcnow()})
    if order.status == OrderStatus.MANUAL:
        await alerts.raise_alert(session, admin_ids, alerts.orders_manual(order.id, service_name))


async def create_order(
    session: AsyncSession,
    user_id: int,
    draft: OrderDraft,
    *,
    key: str,
    admin_ids: frozenset[int],
    confirm_message_id: int | None = None,
    service: Service | None = None,
) -> Order:
    """Charge and create one order of a mass order in the caller's write transaction (no
    key check); `service`: the draft's orderable service when the caller has loaded it."""
    service = service or await orderable_service(session, draft.service_id)
    values = new_order_values(service, user_id, draft, key, None, confirm_message_id)
    order = Order(**values, service=service)  # held: the caller renders its service's name
    session.add(order)
    await session.flush()
    await _charge_and_record(session, order, service.name, admin_ids)
    return order


async def order_by_key(session: AsyncSession, user_id: int, key: str) -> Order | None:
    """The order a confirmation already placed (double tap, replay), if any."""
    return await session.scalar(
        select(Order)
        .where(Order.idempotency_key == key, Order.user_id == user_id)
        .options(selectinload(Order.service))
        .execution_options(populate_existing=True)
    )


async def user_orders(
    session: AsyncSession, user_id: int, *, page: int, per_page: int
) -> tuple[list[Order], int]:
    total = await session.scalar(select(func.count()).where(Order.user_id == user_id)) or 0
    rows = await session.scalars(
        select(Order)
        .where(Order.user_id == user_id)
        .options(selectinload(Order.service))
        .order_by(Order.id.desc())
        .offset(page * per_page)
        .limit(per_page)
    )
    return list(rows), total


async def user_order(session: AsyncSession, user_id: int, order_id: int) -> Order | None:
    """The order if it belongs to this user, with its service and history; else None."""
    return await session.scalar(
        select(Order)
        .where(Order.id == order_id, Order.user_id == user_id)
        .options(
            selectinload(Order.service), selectinload(Order.history), selectinload(Order.provider)
        )
        .execution_options(populate_existing=True)
    )
