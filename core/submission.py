"""Auto Order: sending a charged order to its provider, exactly once (SPEC §5).

The order is claimed (queued → submitting) in one write transaction (core.claims), `add`
is called outside any transaction, and the outcome is applied in another
(core.add_outcome). A crash between the two leaves the order in `submitting`, which
start-up recovery moves to `review`: the provider may have it. Which of its service's
provider services an order goes to is core.routing's (the decisions core.failover's).
core.lanes sends the due orders, one lane per provider.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core import claims, failover, mass_order, notify, routing
from core.add_outcome import accept, apply_add_outcome, note_late_outcome, to_review
from core.claims import Claimed
from core.failover import Decision
from core.lifecycle import load_order
from core.order_fields import dripfeed_of, subscription_of
from core.pricing import input_kind, lines_field
from core.routing import RouteCache
from core.statuses import OrderStatus
from db.engine import write_tx
from db.models import Order
from db.types import utcnow
from providers import AddOutcome, AddRequest, ProviderRegistry
from providers.registry import ProviderRecord


@dataclass(frozen=True, slots=True)
class Submitted:
    """Where an order stands after a submission attempt."""

    status: str
    provider_id: int | None


def add_request(order: Claimed | Order, service_type: str) -> AddRequest:
    """The add request for an order of a service of this type."""
    kind = input_kind(service_type)
    request = AddRequest(
        service=order.provider_service_id or "", type=service_type, link=order.link
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
        field = lines_field(service_type) or "comments"
        setattr(request, field, list((order.extra or {}).get(field, [])))
    return request


async def submit(
    session: AsyncSession,
    registry: ProviderRegistry,
    order_id: int,
    *,
    admin_ids: frozenset[int] = frozenset(),
    notify_customer: bool = True,
    hand_over: Callable[[int], None] | None = None,
    routes: RouteCache | None = None,
) -> Submitted | None:
    """Submit one queued order; returns where it stands now (None if it does not exist).

    An order that is not `queued` (already submitted, being submitted elsewhere, manual), or
    whose provider is off or backing off, is left untouched: claiming is a conditional
    UPDATE, so two workers never both send it.

    Failover (core.failover): the order goes to its service's first ready mapping; a refusal
    about the provider sends it on to the next one at once, a refusal about the customer's
    input fails it, an ambiguous outcome sends it to review and never elsewhere.

    With `hand_over` (the lanes), an order bound for another provider's mapping is queued
    for that provider and `hand_over(provider_id)` wakes its lane after the commit: the send
    goes through that provider's own lane, and this lane's worker never waits on a provider
    that is not its own. The mappings already tried travel with the order. Without it (an
    admin's resend, tests), the next mapping is sent from here at once. `routes`: the
    lanes' snapshot of the mappings (core.routing); without it they are read live.
    """
    now = utcnow()
    async with write_tx(session):
        facts = await claims.facts_of(session, order_id)
        if facts is None:
            return None
        moved = await routing.route(session, order_id, facts, now, routes)
        handed_to = None
        if moved is not None and moved.provider_id != facts.provider_id:
            handed_to = moved.provider_id  # another provider's mapping: its lane sends it
        if handed_to is None or hand_over is None:
            claimed = await claims.claim(session, order_id, now)
            if claimed is None:
                state = await claims.state_of(session, order_id)
                return Submitted(*state) if state is not None else None
            if claimed.provider_id is not None and (
                facts.provider is None or facts.provider.id != claimed.provider_id
            ):  # moved here, or by another replica since facts_of: its provider's account
                facts = await claims.facts_of(session, order_id)
                assert facts is not None
            if facts.provider is None or not claimed.provider_service_id:
                order = await load_order(session, order_id, for_update=True)
                assert order is not None
                note = "service is not mapped"
                await to_review(
                    session, order, facts.service_name, "no_mapping", note, admin_ids,
                    notify_customer,
                )  # fmt: skip
                return Submitted(order.status, order.provider_id)
    if handed_to is not None and hand_over is not None:
        hand_over(handed_to)  # committed: that lane finds the order
        return Submitted(OrderStatus.QUEUED, handed_to)
    return await _send(session, registry, claimed, facts, admin_ids, notify_customer, hand_over)


async def _send(
    session: AsyncSession,
    registry: ProviderRegistry,
    claimed: Claimed,
    facts: claims.Facts,
    admin_ids: frozenset[int],
    notify_customer: bool,
    hand_over: Callable[[int], None] | None,
) -> Submitted:
    """Send the claimed order and apply the answer; on to the next mapping as failover says."""
    provider: ProviderRecord | None = facts.provider
    request = add_request(claimed, facts.service_type)
    tried: list[str] = list(claimed.failover_tried or [])
    # The common case, in a few statements: the provider takes a single order whose
    # confirmation message shows the answer (the edit is the only message).
    quick = claimed.confirm_message_id is not None and not mass_order.is_mass(claimed)
    service_name = facts.service_name
    while True:
        assert provider is not None
        outcome = await registry.get(provider).add(request)
        async with write_tx(session):
            accepted = quick and outcome.kind == "accepted"
            if accepted and await accept(session, claimed, outcome, service_name=service_name):
                return Submitted(OrderStatus.PENDING, claimed.provider_id)
            order = await load_order(session, claimed.id, for_update=True)
            assert order is not None and order.provider is not None
            if order.status != OrderStatus.SUBMITTING:
                # Taken for stuck and moved to review meanwhile (an admin may already act on
                # it): keep what the provider said for the admin, never override them.
                note_late_outcome(order, outcome)
                return Submitted(order.status, order.provider_id)
            following = None
            if failover.decide(outcome) is Decision.NEXT:
                tried.append(f"{order.provider_id}:{order.provider_service_id}")
                following = await routing.next_route(session, order, outcome, tried, admin_ids)
            if following is None or following.status == OrderStatus.QUEUED:
                order.failover_tried = None  # the chain ends (a backup backing off: anew)
            if following is None:
                await _apply(session, order, outcome, admin_ids, notify_customer)
                return Submitted(order.status, order.provider_id)
            if following.status == OrderStatus.QUEUED:  # a backup will be ready later
                return Submitted(order.status, order.provider_id)
            if hand_over is not None:  # the next provider's lane sends it
                order.status, order.next_attempt_at = OrderStatus.QUEUED, None
                order.failover_tried = list(tried)
                handed_to = order.provider_id
                break
            provider = order.provider
            request = add_request(order, order.service.type)
            quick = False
    assert handed_to is not None
    hand_over(handed_to)  # committed: that lane finds the order
    return Submitted(OrderStatus.QUEUED, handed_to)


async def _apply(
    session: AsyncSession,
    order: Order,
    outcome: AddOutcome,
    admin_ids: frozenset[int],
    notify_customer: bool,
) -> None:
    """Any outcome on the loaded order. A customer's confirmation message shows it (edited):
    no other message then."""
    assert order.provider is not None
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
            notify.order_placed(
                session,
                order,
                service_name=order.service.name,
                status=order.status,
                error_code=order.error_code,
                refunded=order.refunded,
            )


async def submit_order(
    session: AsyncSession,
    registry: ProviderRegistry,
    order_id: int,
    *,
    admin_ids: frozenset[int] = frozenset(),
    notify_customer: bool = True,
) -> Order | None:
    """`submit`, then the order as it is now, for a caller that shows it (an admin's
    resend, tests); None if it does not exist."""
    found = await submit(
        session, registry, order_id, admin_ids=admin_ids, notify_customer=notify_customer
    )
    if found is None:
        return None
    return await load_order(session, order_id)


__all__ = ["Submitted", "add_request", "submit", "submit_order"]
