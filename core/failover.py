"""Failover between the provider services a panel service maps to (pure decisions).

Whichever lane sends an order asks two questions here, with no database and no provider:
which mapping gets the order (the first, in priority order, whose provider is enabled, not
backing off, still offers the service and was not tried for this order), and what an add
outcome means for the order: moved on to the next mapping (the refusal is about the
provider), failed (it is about the customer's input), kept for review (ambiguous: the
provider may have created it, so it never moves on) or accepted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from providers import AddOutcome, ApiError, error_codes

# Refusals that say the provider cannot take this service now, whatever the customer typed:
# the service is gone or disabled there, the account is short of funds or locked, the
# provider's min/max moved (we checked the quantity against ours), no drip-feed there.
PROVIDER_SIDE_CODES = frozenset(
    {
        error_codes.INVALID_SERVICE,
        error_codes.INSUFFICIENT_FUNDS,
        error_codes.QUANTITY_BELOW_MIN,
        error_codes.QUANTITY_ABOVE_MAX,
        error_codes.DRIPFEED_UNSUPPORTED,
        error_codes.INVALID_KEY,
        error_codes.ACCOUNT_INACTIVE,
        error_codes.INCORRECT_REQUEST,
    }
)


class Decision(StrEnum):
    ACCEPTED = "accepted"
    NEXT = "next"  # about the provider: try the next mapping (or wait for this one)
    FAIL = "fail"  # about the customer's input: fail and refund, as with one provider
    REVIEW = "review"  # ambiguous: the provider may have it; never sent elsewhere


def decide(outcome: AddOutcome) -> Decision:
    """What one add outcome means for failover."""
    if outcome.kind == "accepted":
        return Decision.ACCEPTED
    if outcome.kind == "ambiguous":
        return Decision.REVIEW
    if outcome.kind in ("no_funds", "not_sent"):  # nothing was created: safe elsewhere
        return Decision.NEXT
    error = outcome.error
    if isinstance(error, ApiError) and (error.stop_provider or error.code in PROVIDER_SIDE_CODES):
        return Decision.NEXT
    return Decision.FAIL


@dataclass(frozen=True)
class Candidate:
    """One mapping of a service as submission sees it."""

    priority: int
    provider_id: int
    provider_service_id: str
    provider_enabled: bool
    retry_after: datetime | None  # the provider's backoff
    offered: bool = True  # False once the provider's catalogue dropped the service

    @property
    def key(self) -> str:
        return f"{self.provider_id}:{self.provider_service_id}"

    def ready(self, now: datetime) -> bool:
        backing_off = self.retry_after is not None and self.retry_after > now
        return self.provider_enabled and self.offered and not backing_off


def choose(
    candidates: Iterable[Candidate], now: datetime, *, tried: Iterable[str] = ()
) -> Candidate | None:
    """The first ready mapping by priority that this order has not been refused by yet."""
    skip = set(tried)
    ordered = sorted(candidates, key=lambda c: c.priority)
    return next((c for c in ordered if c.key not in skip and c.ready(now)), None)
