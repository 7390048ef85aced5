"""Typed, normalised results of provider calls (smm-api-v2.md §9).

Money is always Decimal, ids are always opaque strings, statuses are normalised words
(vocab.py) with the provider's raw answer kept alongside for the admin and for debugging.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from providers import error_codes
from providers.errors import ProviderError

RateBasis = Literal["per_1000", "flat"]
OrderKind = Literal["order", "dripfeed", "subscription"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RemoteService:
    """One row of the provider's catalogue (``action=services``)."""

    id: str
    name: str
    type: str
    category: str | None
    rate: Decimal
    rate_basis: RateBasis
    min: int
    max: int
    refill: bool | None
    cancel: bool | None
    dripfeed: bool | None
    description: str | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(slots=True, kw_only=True)
class RemoteOrderStatus:
    """The provider's view of one order, or of a drip-feed / subscription parent (Q29).

    Parents carry no charge/remains; their child orders are normal orders to poll. Not a
    frozen dataclass (never changed after parsing all the same): status sync builds one per
    active order every cycle, and a frozen one costs three times as much to build.
    """

    order_id: str
    status: str
    raw_status: str | None
    charge: Decimal | None = None
    start_count: int | None = None
    remains: int | None = None
    currency: str | None = None
    kind: OrderKind = "order"
    child_order_ids: list[str] = field(default_factory=list)
    runs: int | None = None
    posts: int | None = None
    expiry: str | None = None
    terminal: bool = False
    # Numbers the provider sent that no count can hold ("1e30"): read as unknown, named here.
    unstored: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def delivered_over(self) -> int:
        """Units delivered beyond the order (negative ``remains``, Q6); 0 otherwise."""
        return -self.remains if self.remains is not None and self.remains < 0 else 0

    @property
    def remains_raw(self) -> Any:
        """``remains`` exactly as the provider sent it (e.g. "+12")."""
        for key, value in self.raw.items():
            if key.lower() == "remains":
                return value
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderLookupError:
    """One id of a multi-status answer came back as an error ("Incorrect order ID")."""

    order_id: str
    message: str
    code: str

    @property
    def reason(self) -> str:
        return error_codes.REASONS.get(self.code, error_codes.REASONS["unknown_api_error"])


@dataclass(slots=True, kw_only=True)
class MultiStatusResult:
    """Answer of ``multi_status``, every requested id lands in exactly one of the three maps.

    * ``results``: the provider answered for the id (a status, or a per-id lookup error);
    * ``missing``: the provider's answer did not mention the id — unknown, not failed;
    * ``failed``: the whole chunk containing the id failed (transport or top-level error).

    ``positional`` is True when a provider answered with a bare list and ids were zipped
    back by request order (Q11): a best effort, so treat it as lower confidence.
    """

    results: dict[str, RemoteOrderStatus | OrderLookupError] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    failed: dict[str, ProviderError] = field(default_factory=dict)
    positional: bool = False

    def statuses(self) -> dict[str, RemoteOrderStatus]:
        """Only the ids with a readable status."""
        return {k: v for k, v in self.results.items() if isinstance(v, RemoteOrderStatus)}

    def lookup_errors(self) -> dict[str, OrderLookupError]:
        """Only the ids the provider explicitly refused."""
        return {k: v for k, v in self.results.items() if isinstance(v, OrderLookupError)}


@dataclass(frozen=True, slots=True, kw_only=True)
class RefillResult:
    """Answer for one order of a refill request.

    ``accepted`` means the provider took the request (it may only be a ticket, Q13/Q14);
    ``refill_id`` may be None when the provider answered with prose only.
    """

    order_id: str
    refill_id: str | None
    accepted: bool
    error: ProviderError | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RefillStatus:
    """State of one refill: pending|in_progress|completed|rejected|failed|unknown, or an error."""

    refill_id: str
    status: str | None
    raw_status: str | None
    error: ProviderError | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelResult:
    """Answer for one order of a cancel request.

    ``accepted`` is "the provider took the cancel request", not "the order is canceled" (Q13):
    confirm through ``status`` (it turns Canceled, or Partial).
    """

    order_id: str
    accepted: bool
    error: ProviderError | None = None


@dataclass(frozen=True, slots=True)
class Balance:
    """The account balance at the provider, in the provider's currency (may be negative)."""

    amount: Decimal
    currency: str | None
