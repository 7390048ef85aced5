"""DemoProvider: a provider that lives inside the process, so an owner can try every flow
(order, status push, cancel, refill, refunds) without money or a real panel.

An order's whole life is derived from its id ``demo-<unix_ms>-<quantity>-<service>-<hex>``:
Pending for 30 s, In progress until 2 min, then Completed (about 1 in 10 ends Partial).
So statuses survive a bot restart with no stored state. Only the balance, cancels and
refills live in memory. Answers go through the same decoders as real providers.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from providers.add_request import AddRequest, build_add_form
from providers.decode import parse_order_status, parse_services
from providers.errors import ApiError
from providers.outcomes import AddOutcome
from providers.types import (
    Balance,
    CancelResult,
    MultiStatusResult,
    OrderLookupError,
    RefillResult,
    RefillStatus,
    RemoteOrderStatus,
    RemoteService,
)
from providers.wire import unique_ids

PENDING_SECONDS = 30
COMPLETE_SECONDS = 120
REFILL_SECONDS = 60
_QUANTUM = Decimal("0.00000001")
_ORDER_ID = re.compile(r"^demo-(\d+)-(\d+)-(\w+?)-([0-9a-f]+)$")
_REFILL_ID = re.compile(r"^demo-refill-(\d+)-([0-9a-f]+)$")


_FIELDS = ("service", "name", "type", "category", "rate", "min", "max", "refill", "cancel",
           "dripfeed", "description")  # fmt: skip
_ROWS = [
    (1, "Instagram Followers [30 days refill]", "Default", "Instagram Followers", "1.20",
     "50", "100000", True, True, True, "Real-looking accounts, 5-10K/day, 30-day refill."),
    (2, "Instagram Followers [no refill, cheap]", "Default", "Instagram Followers", "0.60",
     "100", "50000", False, False, False, "Fast start, drops possible, no refill."),
    (3, "Instagram Likes", "Default", "Instagram Likes", "0.30", "20", "50000", False,
     True, True, "Likes on a post link, starts within minutes."),
    (4, "Instagram Custom Comments", "Custom Comments", "Instagram Comments", "8.00",
     "5", "500", False, True, False, "One comment per line; quantity = number of lines."),
    (5, "TikTok Views", "Default", "TikTok Views", "0.05", "100", "10000000", False,
     True, True, "Video views, instant start."),
    (6, "YouTube Views [lifetime refill]", "Default", "YouTube Views", "1.50", "500",
     "1000000", True, False, False, "Retention 1-3 min, refill for life."),
    (7, "Telegram Channel Members", "Default", "Telegram Members", "0.90", "100",
     "50000", True, True, False, "Public channels only; 30-day refill."),
    (8, "Instagram Starter Package (1K followers + 500 likes)", "Package",
     "Instagram Packages", "9.99", "1", "1", False, False, False,
     "One package per link; flat price."),
]  # fmt: skip
# The catalogue in Perfect Panel's own wire shape, decoded like any provider's answer.
CATALOGUE: list[dict[str, Any]] = [dict(zip(_FIELDS, row, strict=True)) for row in _ROWS]


class DemoProvider:
    """In-process provider implementing ProviderAPI; ``clock`` returns unix seconds."""

    name = "demo"
    currency = "USD"

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        starting_balance: Decimal = Decimal("1000.00"),
    ) -> None:
        self.clock = clock
        self.starting_balance = starting_balance
        self._catalogue = {s.id: s for s in parse_services(CATALOGUE)}
        self._charges: dict[str, Decimal] = {}  # orders placed by this process
        self._canceled: set[str] = set()
        self._refills: dict[str, str] = {}  # refill id → order id

    def __repr__(self) -> str:
        return "DemoProvider()"

    async def services(self) -> list[RemoteService]:
        return list(self._catalogue.values())

    async def add(self, request: AddRequest) -> AddOutcome:
        service = self._catalogue.get(str(request.service).strip())
        if service is None:
            return _refusal("Incorrect service ID")
        request = replace(request, type=service.type)
        form = build_add_form(request)  # same ValueError as the real client for bad requests
        link = form.get("link", "")
        if "." not in link or " " in link.strip():
            return _refusal("Incorrect link")
        quantity = request.total_quantity or 0
        if quantity < service.min:
            return _refusal(f"Quantity less than minimal {service.min}")
        if quantity > service.max:
            return _refusal(f"Quantity more than maximum {service.max}")
        charge = self._charge(service, quantity)
        if charge > (await self.balance()).amount:
            return _refusal("Not enough funds on balance")
        created_ms = int(self.clock() * 1000)
        order_id = f"demo-{created_ms}-{quantity}-{service.id}-{secrets.token_hex(3)}"
        self._charges[order_id] = charge
        return AddOutcome.accepted_order(order_id, charge=charge, currency=self.currency)

    async def status(self, order_id: str) -> RemoteOrderStatus:
        order_id = str(order_id).strip()
        return parse_order_status(order_id, self._raw_status(order_id))

    async def multi_status(self, order_ids: Iterable[str]) -> MultiStatusResult:
        result = MultiStatusResult()
        for order_id in unique_ids(order_ids):
            try:
                result.results[order_id] = await self.status(order_id)
            except ApiError as exc:
                result.results[order_id] = OrderLookupError(
                    order_id=order_id, message=exc.message, code=exc.code
                )
        return result

    async def refill(self, order_id: str) -> RefillResult:
        order_id = str(order_id).strip()
        order = await self.status(order_id)
        service = self._catalogue.get(_parse_order(order_id)[2])
        if service is None or not service.refill:
            raise ApiError.from_message("Refill is disabled for this service", action="refill")
        if order.status != "completed":
            raise ApiError.from_message("The order is not completed", action="refill")
        created_ms = int(self.clock() * 1000)
        refill_id = f"demo-refill-{created_ms}-{secrets.token_hex(3)}"
        self._refills[refill_id] = order_id
        return RefillResult(order_id=order_id, refill_id=refill_id, accepted=True)

    async def multi_refill(self, order_ids: Iterable[str]) -> dict[str, RefillResult]:
        results = {}
        for order_id in unique_ids(order_ids):
            try:
                results[order_id] = await self.refill(order_id)
            except ApiError as exc:
                results[order_id] = RefillResult(
                    order_id=order_id, refill_id=None, accepted=False, error=exc
                )
        return results

    async def refill_status(self, refill_id: str) -> RefillStatus:
        refill_id = str(refill_id).strip()
        match = _REFILL_ID.match(refill_id)
        if match is None:
            raise ApiError.from_message("Refill not found", action="refill_status")
        age = self.clock() - int(match.group(1)) / 1000
        raw = "Pending" if age < REFILL_SECONDS else "Completed"
        status = "pending" if raw == "Pending" else "completed"
        return RefillStatus(refill_id=refill_id, status=status, raw_status=raw)

    async def multi_refill_status(self, refill_ids: Iterable[str]) -> dict[str, RefillStatus]:
        results = {}
        for refill_id in unique_ids(refill_ids):
            try:
                results[refill_id] = await self.refill_status(refill_id)
            except ApiError as exc:
                results[refill_id] = RefillStatus(
                    refill_id=refill_id, status=None, raw_status=None, error=exc
                )
        return results

    async def cancel(self, order_ids: Iterable[str]) -> dict[str, CancelResult]:
        results = {}
        for order_id in unique_ids(order_ids):
            try:
                self._check_cancellable(order_id)
            except ApiError as exc:
                results[order_id] = CancelResult(order_id=order_id, accepted=False, error=exc)
                continue
            self._canceled.add(order_id)
            results[order_id] = CancelResult(order_id=order_id, accepted=True)
        return results

    async def balance(self) -> Balance:
        """Start − charges + refunds (cancels in full, partials pro rata), like a real panel."""
        amount = self.starting_balance
        for order_id, charge in self._charges.items():
            amount -= charge
            raw = self._raw_status(order_id)
            quantity = _parse_order(order_id)[1]
            if raw["status"] in ("Canceled", "Partial") and quantity:
                refund = charge * int(raw["remains"]) / quantity
                amount += refund.quantize(_QUANTUM)
        return Balance(amount, self.currency)

    # --- the deterministic life of an order ---------------------------------------------------

    def _raw_status(self, order_id: str) -> dict[str, Any]:
        """A Perfect Panel status answer for ``order_id`` at the current clock time."""
        created_ms, quantity, service_id = _parse_order(order_id)
        service = self._catalogue.get(service_id)
        charge = self._charges.get(order_id)
        if charge is None and service is not None:
            charge = self._charge(service, quantity)
        fate = int(hashlib.sha256(order_id.encode()).hexdigest(), 16)
        final_remains = quantity * (10 + fate // 10 % 41) // 100 if fate % 10 == 0 else 0
        start_count = 100 + fate // 1000 % 9900
        age = self.clock() - created_ms / 1000
        if order_id in self._canceled:
            raw_status, remains, start_count = "Canceled", quantity, 0
        elif age < PENDING_SECONDS:
            raw_status, remains, start_count = "Pending", quantity, 0
        elif age < COMPLETE_SECONDS:
            done = (age - PENDING_SECONDS) / (COMPLETE_SECONDS - PENDING_SECONDS)
            raw_status = "In progress"
            remains = quantity - int((quantity - final_remains) * done)
        else:
            raw_status = "Partial" if final_remains else "Completed"
            remains = final_remains
        return {
            "charge": str(charge if charge is not None else "0"),
            "start_count": str(start_count),
            "status": raw_status,
            "remains": str(remains),
            "currency": self.currency,
        }

    def _check_cancellable(self, order_id: str) -> None:
        raw = self._raw_status(order_id)  # raises order_not_found for foreign ids
        service = self._catalogue.get(_parse_order(order_id)[2])
        if service is None or not service.cancel:
            raise ApiError.from_message("Cancel is disabled for this service", action="cancel")
        if raw["status"] != "Pending":
            raise ApiError.from_message("Order not eligible for cancellation", action="cancel")

    @staticmethod
    def _charge(service: RemoteService, quantity: int) -> Decimal:
        if service.rate_basis == "flat":
            return service.rate
        return (service.rate * quantity / 1000).quantize(_QUANTUM, rounding=ROUND_HALF_UP)


def _parse_order(order_id: str) -> tuple[int, int, str]:
    match = _ORDER_ID.match(order_id)
    if match is None:
        raise ApiError.from_message("Incorrect order ID", action="status")
    return int(match.group(1)), int(match.group(2)), match.group(3)


def _refusal(message: str) -> AddOutcome:
    return AddOutcome.from_error(ApiError.from_message(message, action="add"))
