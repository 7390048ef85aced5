"""What a customer asks of an order after submission: a refill, a cancel (SPEC §5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.lifecycle import change_status, load_order
from core.order_fields import subscription_of
from core.ordering import OrderError, user_order
from core.provider_failures import record_provider_failure
from core.statuses import OrderStatus
from db.engine import write_tx
from db.models import Order, Refill
from db.types import utcnow
from providers import ProviderRegistry
from providers.errors import ApiError, ProviderError

REFILLABLE = frozenset({OrderStatus.COMPLETED})
CANCELABLE = frozenset({OrderStatus.QUEUED, OrderStatus.PENDING})
# A subscription runs until its posts or end date: it can be stopped while it runs, and the
# posts it did not serve come back through status sync (core.lifecycle).
SUBSCRIPTION_CANCELABLE = CANCELABLE | {OrderStatus.PROCESSING, OrderStatus.IN_PROGRESS}
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
    """Past queued, a cancel is asked of the provider: an order without its id (one an admin
    moved on by hand) has nothing to ask it."""
    if order.status != OrderStatus.QUEUED and not order.provider_order_id:
        return False
    if subscription_of(order.extra) is not None:
        return order.service.cancel and order.status in SUBSCRIPTION_CANCELABLE
    return order.service.cancel and order.status in CANCELABLE and not order.start_count


@dataclass
class RequestResult:
    ok: bool
    # refill_requested | cancel_requested | canceled | provider_refused | provider_unavailable…
    code: str
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
            record_provider_failure(
                session, provider, "refill", message, order_id=order.id, provider_level=False
            )
            return RequestResult(False, _failure_code(error), error.reason if error else None)
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
            order = await load_order(session, order.id, for_update=True)
            assert order is not None
            if order.status != OrderStatus.QUEUED:  # picked up by the submitter meanwhile
                return RequestResult(False, "cancel_not_available")
            await change_status(
                session,
                order,
                OrderStatus.CANCELED,
                service_name=order.service.name,
                implied=order.charge,
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
            record_provider_failure(
                session, provider, "cancel", message, order_id=order.id, provider_level=False
            )
        return RequestResult(False, _failure_code(error), error.reason if error else None)
    return RequestResult(True, "cancel_requested")


def _failure_code(error: ProviderError | None) -> str:
    """provider_refused when the provider said no; provider_unavailable when it gave no
    answer we could read (no connection, a timeout, 5xx, a page that is not its API)."""
    if isinstance(error, ApiError) and (error.http_status or 200) < 500:
        return "provider_refused"
    return "provider_unavailable"
