"""Drip-feed and subscription parents: what their status answers say was not delivered.

A parent answer carries no charge or remains (smm-api-v2 Q29): a drip-feed parent says how
many runs it did, a subscription how many posts it served. What was not delivered is worked
out from those: (runs − runs done) × the quantity of one run, or the posts not served. That
is what a partial or canceled drip-feed refunds, and what a subscription refunds when it
ends (completed, expired or canceled) short of its posts. A parent that does not say (no
runs, no posts) refunds as a plain order does: in full when canceled, review when partial.
core.lifecycle.plan_provider_status applies them.
"""

from __future__ import annotations

from typing import Any, Protocol

from core.order_fields import dripfeed_of, subscription_of
from providers import RemoteOrderStatus


class Placed(Protocol):
    """What of an order these rules read: an Order, or a plain row of its columns."""

    @property
    def quantity(self) -> int: ...

    @property
    def extra(self) -> dict[str, Any] | None: ...


def undelivered(order: Placed, status: RemoteOrderStatus) -> int | None:
    """Units (posts, for a subscription) the parent did not deliver; None if it does not say."""
    if status.remains is not None:
        return status.remains
    drip = dripfeed_of(order.extra)
    if drip is not None and status.runs is not None:
        if status.status == "completed":
            return 0
        per_run = order.quantity // drip.runs
        return max(drip.runs - status.runs, 0) * per_run
    sub = subscription_of(order.extra)
    if sub is not None and status.posts is not None:
        return max(sub.posts - status.posts, 0)
    return None
