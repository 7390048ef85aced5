"""Auto Order: sending a charged order to its provider, exactly once (SPEC §5).

The order is claimed (queued → submitting) in one transaction, `add` is called outside any
transaction, and the outcome is applied in another. A crash between the two leaves the order
in `submitting`, which start-up recovery moves to `review`: the provider may have it.

Which orders are due lives here too (due_queued_orders); core.lanes sends them, one lane
per provider.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from core import alerts, failover, mappings, mass_order, notify
from core.failover import Decision
from core.lifecycle import change_status, load_order, unstored_note
from core.money import in_range
from core.order_fields import dripfeed_of, subscription_of
from core.pricing import input_kind, lines_field
from core.provider_failures import record_provider_failure
from core.statuses import OrderStatus
from db.engine import write_tx
from db.models import Order, Provider, Service, ServiceMapping
from db.types import utcnow
from providers import AddOutcome, AddRequest, ApiError, ProviderRegistry, error_codes
from providers.error_codes import DUPLICATE_ACTIVE_ORDER

log = logging.getLogger(__name__)

FAILURE_ALERT_THRESHOLD = 3
# No add takes this long (connect + read timeouts + pacing): a claim older than this is stuck.
STUCK_AFTER = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=1)
# error_code of an order an admin resent although the provider may have its first add.
RESENT_MAYBE_DELIVERED = "resent_maybe_delivered"


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 ... minutes, capped at an hour."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def add_request(order: Order, service: Service) -> AddRequest:
    kind = input_kind(service.type)
    request = AddRequest(
        service=order.provider_service_id or "", type=service.type, link=order.link
    )
    if kind == "subscription":
        sub = subscription_of(order.extra)
        assert sub is not None, "a subscription order carries its fields"
        request.link = None
        request.username, request.min, request.max = sub.username, sub.min, sub.max
        request.posts, request.delay, request.expiry = sub.posts, sub.delay, sub.expiry
    elif kind == "quantity":
        drip = dripfeed_of(order.extra)
        request.quantity = order.quantity // drip.runs if drip else order.quantity
        if drip is not None:
            request.runs, request.interval = drip.runs, drip.interval
    elif kind == "lines":
        field = lines_field(service.type) or "comments"
        setattr(request, field, list((order.extra or {}).get(field, [])))
    return request


async def submit_order(
    session: AsyncSession,
    registry: ProviderRegistry,
    order_id: int,
    *,
    admin_ids: frozenset[int] = frozenset(),
    notify_customer: bool = True,
    hand_over: Callable[[int], None] | None = None,
) -> Order | None:
    """Submit one queued order; returns it in its new state (None if it does not exist).

    An order that is not `queued` (already submitted, being submitted elsewhere, manual), or
    whose provider is off or backing off, is returned untouched: claiming is a conditional
    UPDATE, so two workers never both send it.

    Failover (core.failover): the order goes to its service's first ready mapping; a refusal
    about the provider sends it on to the next one at once, a refusal about the customer's
    input fails it, an ambiguous outcome sends it to review and never elsewhere.

    With `hand_over` (the lanes), an order bound for another provider's mapping is queued
    for that provider and `hand_over(provider_id)` wakes its lane after the commit: the send
    goes through that provider's own lane, and this lane's worker never waits on a provider
    that is not its own. The mappings already tried travel with the order. Without it (an
    admin's resend, tests), the next mapping is sent from here at once.
    """
    now = utcnow()
    ready_providers = select(Provider.id).where(
        Provider.enabled, Provider.retry_after.is_(None) | (Provider.retry_after <= now)
    )
    async with write_tx(session):
        routed = await _route(session, order_id, now)
        handed = routed is not None and hand_over is not None
        if handed:  # another provider's mapping: its lane sends it
            order = await load_order(session, order_id)
        else:
            claimed = await session.execute(
                update(Order)
                .where(
                    Order.id == order_id,
                    Order.status == OrderStatus.QUEUED,
                    # A provider switched off or backing off (no funds, unreachable) keeps its
                    # orders queued; an unmapped order is claimed so that it goes to review.
                    Order.provider_id.is_(None) | Order.provider_id.in_(ready_providers),
                )
                .values(
                    status=OrderStatus.SUBMITTING, attempts=Order.attempts + 1, updated_at=utcnow()
                )
            )
            order = await load_order(session, order_id, for_update=True)
            if order is None or claimed.rowcount != 1:
                return order
            service, provider = order.service, order.provider
            if provider is None or not order.provider_service_id:
                await _to_review(
                    session,
                    order,
                    service,
                    "no_mapping",
                    "service is not mapped",
                    admin_ids,
                    notify_customer,
                )
                return order
            request = add_request(order, service)
            tried: list[str] = list(order.failover_tried or [])
    if handed:
        assert hand_over is not None and routed is not None
        hand_over(routed)  # committed: that lane finds the order
        return order
    handed_to: int | None = None
    while True:
        outcome = await registry.get(provider).add(request)
        async with write_tx(session):
            order = await load_order(session, order_id, for_update=True)
            assert order is not None and order.provider is not None
            if order.status != OrderStatus.SUBMITTING:
                # Taken for stuck and moved to review meanwhile (an admin may already act on
                # it): keep what the provider said for the admin, never override them.
                _note_late_outcome(order, outcome)
                return order
            following = None
            if failover.decide(outcome) is Decision.NEXT:
                tried.append(f"{order.provider_id}:{order.provider_service_id}")
                following = await _next_mapping(session, order, outcome, tried, admin_ids)
            if following is None or following.status == OrderStatus.QUEUED:
                order.failover_tried = None  # the chain ends (a backup backing off: anew)
            if following is None:
                # A customer's confirmation message shows the outcome (edited): no other one.
                confirmed = order.confirm_message_id is not None
                await apply_add_outcome(
                    session,
                    order,
                    order.provider,
                    outcome,
                    admin_ids=admin_ids,
                    notify_customer=notify_customer and not confirmed,
                )
                if confirmed and order.status != OrderStatus.QUEUED:
                    if mass_order.is_mass(order):
                        await mass_order.answered(session, order)
                    else:
                        notify.order_placed(session, order)
                return order
            if following.status == OrderStatus.QUEUED:  # a backup will be ready later
                return order
            if hand_over is not None:  # the next provider's lane sends it
                order.status, order.next_attempt_at = OrderStatus.QUEUED, None
                order.failover_tried = list(tried)
                handed_to = order.provider_id
                break
            provider = order.provider
            assert provider is not None
            request = add_request(order, order.service)
    assert handed_to is not None
    hand_over(handed_to)  # committed: that lane finds the order
    return order


async def _route(session: AsyncSession, order_id: int, now: datetime) -> int | None:
    """A queued order goes to its service's first ready mapping (by priority) that has not
    refused it yet: a provider off or backing off is passed over for the next one instead of
    holding the order. Returns the provider it moved to, if it moved."""
    order = await session.scalar(
        select(Order).where(Order.id == order_id).options(joinedload(Order.service))
    )
    if order is None or order.status != OrderStatus.QUEUED or order.provider_id is None:
        return None
    candidates = await mappings.candidates(session, order.service)
    chosen = failover.choose(candidates, now, tried=order.failover_tried or ())
    if chosen is None or chosen.key == f"{order.provider_id}:{order.provider_service_id}":
        return None
    await session.execute(
        update(Order)
        .where(Order.id == order_id, Order.status == OrderStatus.QUEUED)
        .values(provider_id=chosen.provider_id, provider_service_id=chosen.provider_service_id)
    )
    return chosen.provider_id if chosen.provider_id != order.provider_id else None


async def _next_mapping(
    session: AsyncSession,
    order: Order,
    outcome: AddOutcome,
    tried: list[str],
    admin_ids: frozenset[int],
) -> Order | None:
    """After a refusal about the provider: the order moved to the next ready mapping (still
    submitting), or queued for a backup that is only backing off, or None when no mapping
    is left (the outcome then applies as with one provider)."""
    now = utcnow()
    candidates = await mappings.candidates(session, order.service)
    chosen = failover.choose(candidates, now, tried=tried)
    waiting = [c for c in candidates if c.key not in tried and c.provider_enabled and c.offered]
    if chosen is None and not waiting:
        return None
    provider = order.provider
    assert provider is not None
    error = outcome.error
    message = error.message if error is not None else (outcome.reason or outcome.kind)
    code = error.code if isinstance(error, ApiError) else outcome.kind
    message = record_provider_failure(
        session, provider, "add", message, order_id=order.id, code=code
    )
    if outcome.kind in ("no_funds", "not_sent") or (
        isinstance(error, ApiError) and error.stop_provider
    ):
        # The whole account is out (no funds, unreachable, key): its other orders skip it.
        provider.retry_after = now + backoff(provider.consecutive_failures + 1)
        await _count_failure(session, provider, admin_ids)
        if outcome.kind == "no_funds":
            await alerts.raise_alert(session, admin_ids, alerts.provider_no_funds(provider))
        elif isinstance(error, ApiError) and error.stop_provider:
            await alerts.raise_alert(session, admin_ids, alerts.provider_key(provider, message))
    elif code == error_codes.INVALID_SERVICE:
        await mappings.mark_dropped(session, provider.id, order.provider_service_id or "")
    target = chosen or min(waiting, key=lambda c: c.retry_after or now)
    order.provider = await session.get(Provider, target.provider_id)
    order.provider_id, order.provider_service_id = target.provider_id, target.provider_service_id
    order.last_error = f"{provider.name}: {message}"[:2000]
    order.error_code = code
    if chosen is None:  # only backups that are backing off: wait for the first of them
        order.status = OrderStatus.QUEUED
        order.next_attempt_at = target.retry_after
    await session.flush()
    log.info(
        "order %s: %s refused (%s), next mapping %s", order.id, provider.name, code, target.key
    )
    return order


def _note_late_outcome(order: Order, outcome: AddOutcome) -> None:
    log.warning("order %s: add answered %s after it left submitting", order.id, outcome.kind)
    if outcome.kind == "accepted" and not order.provider_order_id:
        order.provider_order_id = outcome.provider_order_id
    detail = outcome.provider_order_id or (outcome.error.message if outcome.error else "")
    order.last_error = f"late add answer: {outcome.kind} {detail}"[:2000]


async def apply_add_outcome(
    session: AsyncSession,
    order: Order,
    provider: Provider,
    outcome: AddOutcome,
    *,
    admin_ids: frozenset[int],
    notify_customer: bool,
) -> None:
    service_name = order.service.name
    error = outcome.error
    now = utcnow()
    if outcome.kind == "accepted":
        order.provider_order_id = outcome.provider_order_id
        order.last_error = order.error_code = None
        if in_range(outcome.charge):
            order.cost = outcome.charge
        elif outcome.charge is not None:  # keep the id whatever the charge: it is the order
            order.last_error = unstored_note("add", ["charge"], {"charge": str(outcome.charge)})
        provider.consecutive_failures = 0
        provider.retry_after = None
        await change_status(
            session,
            order,
            OrderStatus.PENDING,
            service_name=service_name,
            notify_customer=notify_customer,
        )
        return

    maybe_delivered = order.error_code == RESENT_MAYBE_DELIVERED
    message = error.message if error is not None else (outcome.reason or outcome.kind)
    code = error.code if isinstance(error, ApiError) else outcome.kind
    message = record_provider_failure(
        session, provider, "add", message, order_id=order.id, code=code
    )
    order.last_error, order.error_code = message, code

    if maybe_delivered and code == DUPLICATE_ACTIVE_ORDER:
        # The first add of this order may have arrived after all: "you already have an
        # active order for this link" most likely means that one. Refunding would leave the
        # provider delivering an order the customer got back; an admin attaches its id.
        note = (
            "resent; the provider says it already has an active order for this link, "
            "probably the first one: attach its id with /setstatus ID pending PROVIDER_ID"
        )
        await _to_review(session, order, order.service, code, note, admin_ids, notify_customer)
        return
    if outcome.kind == "rejected" and not (isinstance(error, ApiError) and error.stop_provider):
        await change_status(
            session,
            order,
            OrderStatus.FAILED,
            service_name=service_name,
            note=message[:500],
            notify_customer=notify_customer,
            implied=order.charge,
            refund_reason="failed",
            admin_ids=admin_ids,
        )
        return
    if outcome.kind == "ambiguous":
        await _to_review(session, order, order.service, code, message, admin_ids, notify_customer)
        await _count_failure(session, provider, admin_ids)
        return
    # no_funds, not_sent, or a provider-level refusal (bad key): safe to send again later.
    delay = backoff(order.attempts)
    order.status = OrderStatus.QUEUED
    order.next_attempt_at = now + delay
    provider.retry_after = now + delay
    await _count_failure(session, provider, admin_ids)
    if outcome.kind == "no_funds":
        await alerts.raise_alert(session, admin_ids, alerts.provider_no_funds(provider))
    elif isinstance(error, ApiError) and error.stop_provider:
        await alerts.raise_alert(session, admin_ids, alerts.provider_key(provider, message))


async def _count_failure(
    session: AsyncSession, provider: Provider, admin_ids: frozenset[int]
) -> None:
    provider.consecutive_failures += 1
    if provider.consecutive_failures >= FAILURE_ALERT_THRESHOLD:
        alert = alerts.provider_failing(
            provider, provider.consecutive_failures, provider.last_error or ""
        )
        await alerts.raise_alert(session, admin_ids, alert)


async def _to_review(
    session: AsyncSession,
    order: Order,
    service: Service,
    code: str,
    message: str,
    admin_ids: frozenset[int],
    notify_customer: bool,
) -> None:
    order.error_code, order.last_error = code, message[:2000]
    await change_status(
        session,
        order,
        OrderStatus.REVIEW,
        service_name=service.name,
        note=message[:500],
        notify_customer=notify_customer,
    )
    await alerts.raise_alert(session, admin_ids, alerts.orders_review(order.id, message))


async def recover_interrupted(
    session: AsyncSession, admin_ids: frozenset[int], *, older_than: timedelta = timedelta(0)
) -> list[int]:
    """Orders caught mid-submission by a crash go to review; nothing else changes.

    A lone process recovers every `submitting` order at start-up. With replicas, another
    process may be sending one right now, so only claims older than `older_than` (longer
    than any add can take, STUCK_AFTER) count as interrupted.
    """
    cutoff = utcnow() - older_than
    async with write_tx(session):
        orders = list(
            await session.scalars(
                select(Order)
                .where(Order.status == OrderStatus.SUBMITTING, Order.updated_at <= cutoff)
                .options(selectinload(Order.service))
            )
        )
        for order in orders:
            await _to_review(
                session,
                order,
                order.service,
                "interrupted",
                "interrupted during submission; the provider may have it",
                admin_ids,
                notify_customer=True,
            )
    return [o.id for o in orders]


async def due_queued_orders(
    session: AsyncSession, limit: int = 50, *, provider_id: int | None = None
) -> list[int]:
    """Queued orders whose retry time has come, oldest first, skipping providers in backoff
    (unless the order's service has backup mappings: submission routes it to one); with
    `provider_id`, that provider's only. Rows another replica is claiming right now are
    skipped (FOR UPDATE SKIP LOCKED; the claim itself is conditional)."""
    now = utcnow()
    has_backup = select(ServiceMapping.id).where(ServiceMapping.service_id == Order.service_id)
    query = (
        select(Order.id)
        .join(Provider, Provider.id == Order.provider_id)
        .where(
            Order.status == OrderStatus.QUEUED,
            (Order.next_attempt_at.is_(None)) | (Order.next_attempt_at <= now),
            (Provider.enabled & ((Provider.retry_after.is_(None)) | (Provider.retry_after <= now)))
            | has_backup.exists(),
        )
        .order_by(Order.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Order)
    )
    if provider_id is not None:
        query = query.where(Order.provider_id == provider_id)
    return list(await session.scalars(query))


__all__ = [
    "add_request",
    "backoff",
    "due_queued_orders",
    "recover_interrupted",
    "submit_order",
]
