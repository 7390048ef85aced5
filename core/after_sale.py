"""What happens to an order after submission: provider statuses, refunds, refills, cancels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.ordering import OrderError, change_status, partial_refund, user_order
from core.statuses import ACTIVE_STATUSES, PROVIDER_TO_PANEL, OrderStatus
from db.engine import write_tx
from db.models import Order, ProviderError, Refill
from db.types import utcnow
from providers import OrderStatus as ProviderStatus
from providers import ProviderRegistry

REFILLABLE = frozenset({OrderStatus.COMPLETED})
CANCELABLE = frozenset({OrderStatus.QUEUED, OrderStatus.PENDING})
OPEN_REFILL_STATUSES = frozenset({"pending", "in_progress"})
# A refill the provider took without an id is never synced: it stops blocking after this.
UNTRACKED_REFILL_WINDOW = timedelta(days=1)


def can_refill(order: Order, *, refill_open: bool = False) -> bool:
    """Refill applies (and none is still running for this order: see open_refill)."""
    return (
        order.service.refill
        and order.status in REFILLABLE
        and bool(order.provider_order_id)
        and not refill_open
    )


async def open_refill(session: AsyncSession, order_id: int) -> bool:
    """True while a refill of this order is pending or in progress at the provider."""
    found = await session.scalar(
        select(Refill.id)
        .where(
            Refill.order_id == order_id,
            Refill.status.in_(sorted(OPEN_REFILL_STATUSES)),
            Refill.provider_refill_id.is_not(None)
            | (Refill.created_at > utcnow() - UNTRACKED_REFILL_WINDOW),
        )
        .limit(1)
    )
    return found is not None


def can_cancel(order: Order) -> bool:
    return order.service.cancel and order.status in CANCELABLE and not order.start_count


async def apply_provider_status(
    session: AsyncSession, order: Order, status: ProviderStatus
) -> bool:
    """Apply one status answer in the caller's transaction; True if the panel status changed.

    Partial refunds charge × remains / quantity (rounded down), canceled/refunded/failed the
    whole charge; each refund is keyed per order and reason, so a status seen twice, a retry
    or a restart never refunds twice. Unknown provider statuses change nothing but the raw
    status kept for admins.
    """
    order.provider_status = (status.raw_status or status.status)[:64]
    if status.start_count is not None:
        order.start_count = status.start_count
    if status.remains is not None:
        order.remains = status.remains
    if status.charge is not None:
        order.cost = status.charge
    new = PROVIDER_TO_PANEL.get(status.status)
    if new is None or new == order.status:
        return False
    name = order.service.name
    if new == OrderStatus.PARTIAL:
        if status.remains is None:  # a refund needs remains: let a human look
            order.error_code = "partial_without_remains"
            await change_status(
                session,
                order,
                OrderStatus.REVIEW,
                service_name=name,
                note="Partial without remains",
            )
            return True
        refund = partial_refund(order.charge, order.quantity, status.remains)
        await change_status(
            session, order, new, service_name=name, refund=refund, refund_reason="partial"
        )
    elif new in (OrderStatus.CANCELED, OrderStatus.FAILED):
        await change_status(
            session, order, new, service_name=name, refund=order.charge, refund_reason=str(new)
        )
    else:
        await change_status(session, order, new, service_name=name)
    return True


@dataclass
class RequestResult:
    ok: bool
    code: str  # refill_requested | cancel_requested | canceled | provider_refused | ...
    message: str | None = None


async def request_refill(
    session: AsyncSession, registry: ProviderRegistry, user_id: int, order_id: int
) -> RequestResult:
    order = await user_order(session, user_id, order_id)
    if order is None:
        raise OrderError("order_not_found")
    if not can_refill(order):
        return RequestResult(False, "refill_not_available")
    if await open_refill(session, order.id):
        return RequestResult(False, "refill_pending")
    provider, provider_order_id = order.provider, order.provider_order_id
    assert provider is not None and provider_order_id is not None
    await session.commit()  # no transaction held over the provider call
    results = await registry.get(provider).multi_refill([provider_order_id])
    result = results.get(provider_order_id)
    async with write_tx(session):
        if result is None or not result.accepted:
            error = result.error if result else None
            message = error.message if error else "no answer for this order"
            session.add(
                ProviderError(
                    provider_id=provider.id,
                    action="refill",
                    order_id=order.id,
                    message=message[:2000],
                )
            )
            return RequestResult(False, "provider_refused", error.reason if error else None)
        session.add(Refill(order_id=order.id, provider_refill_id=result.refill_id))
    return RequestResult(True, "refill_requested")


async def request_cancel(
    session: AsyncSession, registry: ProviderRegistry, user_id: int, order_id: int
) -> RequestResult:
    """Queued orders are canceled here and refunded at once; pending ones are asked of the
    provider, whose answer arrives later through status sync (Canceled or Partial)."""
    order = await user_order(session, user_id, order_id)
    if order is None:
        raise OrderError("order_not_found")
    if not can_cancel(order):
        return RequestResult(False, "cancel_not_available")
    if order.status == OrderStatus.QUEUED:
        async with write_tx(session):
            order = await _reload(session, order.id)
            if order.status != OrderStatus.QUEUED:  # picked up by the submitter meanwhile
                return RequestResult(False, "cancel_not_available")
            await change_status(
                session,
                order,
                OrderStatus.CANCELED,
                service_name=order.service.name,
                refund=order.charge,
                refund_reason="canceled",
                note="canceled by the customer",
                notify_customer=False,
            )
        return RequestResult(True, "canceled")
    provider, provider_order_id = order.provider, order.provider_order_id
    assert provider is not None and provider_order_id is not None
    await session.commit()
    results = await registry.get(provider).cancel([provider_order_id])
    result = results.get(provider_order_id)
    if result is None or not result.accepted:
        error = result.error if result else None
        async with write_tx(session):
            message = error.message if error else "no answer for this order"
            session.add(
                ProviderError(
                    provider_id=provider.id,
                    action="cancel",
                    order_id=order.id,
                    message=message[:2000],
                )
            )
        return RequestResult(False, "provider_refused", error.reason if error else None)
    return RequestResult(True, "cancel_requested")


async def _reload(session: AsyncSession, order_id: int) -> Order:
    """The order as committed now, its row locked (PostgreSQL): a submitter's claim committed
    meanwhile is seen, and one not yet made waits for this transaction."""
    order = await session.scalar(
        select(Order)
        .where(Order.id == order_id)
        .with_for_update(of=Order)
        .options(selectinload(Order.service), selectinload(Order.provider))
        .execution_options(populate_existing=True)
    )
    assert order is not None
    return order


async def active_orders_by_provider(session: AsyncSession) -> dict[int, list[Order]]:
    rows = await session.scalars(
        select(Order)
        .where(Order.status.in_(list(ACTIVE_STATUSES)), Order.provider_order_id.is_not(None))
        .options(selectinload(Order.service))
        .order_by(Order.id)
    )
    grouped: dict[int, list[Order]] = {}
    for order in rows:
        grouped.setdefault(order.provider_id or 0, []).append(order)
    return grouped
