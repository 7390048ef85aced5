"""Decoded JSON answers → typed results, for the single-object actions.

These functions run after the client's top-level error check (§2), so they only see
success envelopes; anything they cannot read becomes an UnexpectedResponse, never a guess.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from providers.errors import UnexpectedResponse
from providers.outcomes import AddOutcome
from providers.parsing import (
    ci,
    is_success_envelope,
    out_of_range,
    to_bool,
    to_decimal,
    to_id,
    to_int,
    to_order_id,
    to_remains,
    to_text,
)
from providers.types import Balance, OrderKind, RemoteOrderStatus, RemoteService
from providers.vocab import (
    FLAT_RATE_TYPES,
    is_terminal,
    normalize_order_status,
    normalize_service_type,
)

log = logging.getLogger(__name__)


def snippet(body: Any, limit: int = 200) -> str:
    """A short printable excerpt of a decoded body, for error messages and logs."""
    try:
        text = json.dumps(body, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(body)
    return text[:limit]


# --- services -----------------------------------------------------------------------------


def parse_services(body: Any) -> list[RemoteService]:
    """The catalogue from a list, a ``{"services": [...]}`` wrapper or an "Empty Data" envelope.

    An empty catalogue is a valid answer (Q22) — but an unreadable one raises, so a caller
    never wipes its local catalogue because of a garbled response.
    """
    services = []
    for fallback_id, row in _service_rows(body):
        service = parse_service(row, fallback_id)
        if service is not None:
            services.append(service)
    return services


def _service_rows(body: Any) -> list[tuple[str | None, Any]]:
    if isinstance(body, list):
        return [(None, row) for row in body]
    if isinstance(body, Mapping):
        data = ci(body)
        for key in ("services", "data", "result"):
            value = data.get(key)
            if isinstance(value, list):
                return [(None, row) for row in value]
            if isinstance(value, Mapping) and value and _all_objects(value):
                return [(str(k), row) for k, row in value.items()]
        if is_success_envelope(body) and not isinstance(data.get("data"), list | Mapping):
            return []  # SmartPanel: {"status": "success", "data": "Empty Data"}
        if body and _all_objects(body):
            return [(str(k), row) for k, row in body.items()]  # keyed by service id
    raise UnexpectedResponse("unrecognised services answer", snippet=snippet(body))


def _all_objects(mapping: Mapping[Any, Any]) -> bool:
    return all(isinstance(value, Mapping) for value in mapping.values())


def parse_service(row: Any, fallback_id: str | None = None) -> RemoteService | None:
    """One catalogue row; rows without an id or a readable rate are skipped with a warning."""
    if not isinstance(row, Mapping):
        log.warning("skipping a services row that is not an object: %s", snippet(row, 80))
        return None
    data = ci(row)
    service_id = to_id(data.get("service")) or to_id(data.get("id")) or fallback_id
    rate = to_decimal(data.get("rate"))
    if service_id is None or rate is None:
        log.warning("skipping a services row without id or rate: %s", snippet(row, 120))
        return None
    kind = normalize_service_type(data.get("type"))
    return RemoteService(
        id=service_id,
        name=to_text(data.get("name")) or f"Service {service_id}",
        type=kind,
        category=to_text(data.get("category")),
        rate=rate,
        rate_basis="flat" if kind in FLAT_RATE_TYPES else "per_1000",
        min=to_int(data.get("min")) or 0,
        max=to_int(data.get("max")) or 0,
        refill=to_bool(data.get("refill")),
        cancel=to_bool(data.get("cancel")),
        dripfeed=to_bool(data.get("dripfeed")),
        description=to_text(data.get("description")) or to_text(data.get("desc")),
        raw=dict(row),
    )


# --- add, status, balance -----------------------------------------------------------------


def parse_add(body: Any) -> AddOutcome:
    """``{"order": N}`` in any §3.2 variant → accepted; no usable order id (none, or 0, -1,
    NaN, "", true, {}...: see to_order_id) → UnexpectedResponse, i.e. ambiguous."""
    data = ci(body)
    order = data.get("order", data.get("order_id"))
    if isinstance(order, Mapping):
        order = ci(order).get("id")
    order_id = to_order_id(order)
    if order_id is None:
        reason = "no order id" if order is None else "an order id that is not one"
        raise UnexpectedResponse(f"answer has {reason} and no error", snippet=snippet(body))
    return AddOutcome.accepted_order(
        order_id, charge=to_decimal(data.get("charge")), currency=to_text(data.get("currency"))
    )


def unwrap_single(order_id: str, body: Any) -> Any:
    """A single-id answer that came as a list or keyed by the id → the one entry (S8, S14)."""
    if isinstance(body, list):
        for entry in body:
            if to_id(ci(entry).get("order")) == order_id:
                return entry
        return body[0] if len(body) == 1 else body
    if isinstance(body, Mapping) and "status" not in ci(body):
        keyed = body.get(order_id)
        if isinstance(keyed, Mapping):
            return keyed
    return body


def parse_order_status(order_id: str, entry: Any) -> RemoteOrderStatus:
    """One order's status; drip-feed and subscription parents are told apart by their keys."""
    if not isinstance(entry, Mapping):
        raise UnexpectedResponse("status answer is not an object", snippet=snippet(entry))
    view = ci(entry)
    entry, data = view.source, view.folded
    raw_status = data.get("status")
    if type(raw_status) is not str and isinstance(raw_status, Mapping | list):
        # a word was due: unreadable, not "unknown"
        raise UnexpectedResponse("status is not a status word", snippet=snippet(entry))
    status = normalize_order_status(raw_status)
    kind: OrderKind = "order"
    children: list[str] = []
    if isinstance(data.get("orders"), list):
        children = [child for child in map(to_id, data["orders"]) if child]
        parent_keys = ("posts", "expiry", "old_orders")
        kind = "subscription" if any(key in data for key in parent_keys) else "dripfeed"
    expiry = data.get("expiry")
    counts = {
        "start_count": to_int(data.get("start_count")),
        "remains": to_remains(data.get("remains")),
        "runs": to_int(data.get("runs")),
        "posts": to_int(data.get("posts")),
    }
    # A number was sent that no count can hold ("1e30"): read as unknown, named for admins.
    unstored = tuple(
        key
        for key, number in counts.items()
        if number is None and (value := data.get(key)) is not None and out_of_range(value)
    )
    return RemoteOrderStatus(
        order_id=order_id,
        status=status,
        raw_status=None if raw_status is None else str(raw_status),
        charge=to_decimal(data.get("charge")),
        currency=to_text(data.get("currency")),
        kind=kind,
        child_order_ids=children,
        # SmartPanel sends a boolean "not yet expired" here; only a date string is an expiry.
        expiry=(expiry.strip() or None) if isinstance(expiry, str) else None,
        terminal=is_terminal(status),
        unstored=unstored,
        raw=entry if type(entry) is dict else dict(entry),
        **counts,
    )


def parse_balance(body: Any) -> Balance:
    """``{"balance": "100.84", "currency": "USD"}`` in its variants (numeric, negative...)."""
    data = ci(body)
    amount = to_decimal(data.get("balance"))
    if amount is None:
        raise UnexpectedResponse("answer has no readable balance", snippet=snippet(body))
    return Balance(amount, to_text(data.get("currency")))
