"""Decoded JSON answers → typed results, for the per-id actions (multi status, refill,
refill_status, cancel).

These answers hide per-id failures inside an HTTP 200 success envelope (Q12), come as an
object keyed by id or as a list (sometimes without ids, Q11), and sometimes answer a
request with prose only (Q14). Every requested id gets exactly one result here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from providers.decode import parse_order_status, snippet
from providers.error_codes import UNKNOWN_API_ERROR, classify_error
from providers.errors import ApiError, UnexpectedResponse
from providers.parsing import (
    ci,
    entry_error,
    error_message,
    is_success_envelope,
    to_bool,
    to_id,
)
from providers.types import (
    CancelResult,
    MultiStatusResult,
    OrderLookupError,
    RefillResult,
    RefillStatus,
)
from providers.vocab import normalize_refill_status

log = logging.getLogger(__name__)


def index_entries(ids: list[str], body: Any, id_key: str) -> tuple[dict[str, Any], bool]:
    """Requested id → its raw entry. The flag is True when ids were zipped by position."""
    wanted = set(ids)
    if isinstance(body, Mapping):
        return {str(k).strip(): v for k, v in body.items() if str(k).strip() in wanted}, False
    if not isinstance(body, list):
        raise UnexpectedResponse("answer is neither an object nor a list", snippet=snippet(body))
    found: dict[str, Any] = {}
    unkeyed: list[Any] = []
    for entry in body:
        entry_id = to_id(ci(entry).get(id_key)) if isinstance(entry, Mapping) else None
        if entry_id is None:
            unkeyed.append(entry)
        elif entry_id in wanted:
            found[entry_id] = entry
    if unkeyed and not found and len(unkeyed) == len(ids):
        # S7 appends answers in request order without ids: the only clue is the position.
        return dict(zip(ids, unkeyed, strict=True)), True
    if unkeyed:
        log.warning("ignoring %d answer entries without a usable id", len(unkeyed))
    return found, False


def _missing(action: str) -> UnexpectedResponse:
    return UnexpectedResponse("id missing from the provider's answer", action=action)


def _error(message: str, action: str) -> ApiError:
    return ApiError.from_message(message, action=action)


# --- status -------------------------------------------------------------------------------


def parse_multi_status(ids: list[str], body: Any) -> MultiStatusResult:
    """One chunk of ``status`` with ``orders=``; ids absent from the answer are *missing*."""
    data = ci(body)
    if isinstance(body, Mapping) and len(ids) == 1 and "status" in data and ids[0] not in body:
        found, positional = {ids[0]: body}, False  # a lone id answered in the single shape
    else:
        found, positional = index_entries(ids, body, "order")
    result = MultiStatusResult(positional=positional)
    for order_id in ids:
        value = found.get(order_id)
        if value is None:
            result.missing.append(order_id)
            continue
        if isinstance(value, Mapping):  # one case-insensitive view for the check and the parse
            value = ci(value)
        message = entry_error(value)
        if message is None and not isinstance(value, Mapping):
            message = str(value)
        if message is not None:
            code = classify_error(message)
            result.results[order_id] = OrderLookupError(
                order_id=order_id, message=message, code=code
            )
        else:
            try:
                result.results[order_id] = parse_order_status(order_id, value)
            except UnexpectedResponse as exc:  # one unreadable entry spoils only its own id
                result.results[order_id] = OrderLookupError(
                    order_id=order_id, message=exc.message, code=UNKNOWN_API_ERROR
                )
    return result


# --- refill -------------------------------------------------------------------------------


def parse_refill(order_id: str, body: Any) -> RefillResult:
    """Single refill; a refusal nested as ``{"refill": {"error": ...}}`` raises ApiError."""
    if isinstance(body, list):
        entries, _ = index_entries([order_id], body, "order")
        body = entries.get(order_id, body[0] if len(body) == 1 else None)
    result = refill_entry(order_id, body)
    if result.error is not None:
        raise result.error
    return result


def parse_multi_refill(ids: list[str], body: Any) -> dict[str, RefillResult]:
    """Refill with ``orders=``: per-order results, prose-only success accepts them all."""
    if _is_bare_success(ids, body):
        return {i: RefillResult(order_id=i, refill_id=None, accepted=True) for i in ids}
    found, _ = index_entries(ids, body, "order")
    return {
        i: refill_entry(i, found[i])
        if i in found
        else RefillResult(order_id=i, refill_id=None, accepted=False, error=_missing("refill"))
        for i in ids
    }


def refill_entry(order_id: str, entry: Any) -> RefillResult:
    """One order's refill answer: an id, a nested error, ``true``/``false`` or a sentence."""
    value = entry
    if isinstance(entry, Mapping):
        message = error_message(entry)
        if message is not None:
            return _refused_refill(order_id, message)
        data = ci(entry)
        if "refill" not in data:
            if is_success_envelope(entry):
                return RefillResult(order_id=order_id, refill_id=None, accepted=True)
            value = data.get("id")
        else:
            value = data["refill"]
    if isinstance(value, Mapping):
        if isinstance(value, Mapping):  # one case-insensitive view for the check and the parse
            value = ci(value)
        message = entry_error(value)
        if message is not None:
            return _refused_refill(order_id, message)
        value = ci(value).get("id", ci(value).get("refill"))
    if isinstance(value, bool):
        return RefillResult(order_id=order_id, refill_id=None, accepted=value)
    if isinstance(value, str) and (not value.strip() or " " in value.strip()):
        if classify_error(value) != UNKNOWN_API_ERROR:
            return _refused_refill(order_id, value.strip())
        return RefillResult(order_id=order_id, refill_id=None, accepted=True)  # a sentence
    refill_id = to_id(value)
    if refill_id is None:
        return RefillResult(
            order_id=order_id,
            refill_id=None,
            accepted=False,
            error=UnexpectedResponse("unreadable refill answer", snippet=snippet(entry)),
        )
    return RefillResult(order_id=order_id, refill_id=refill_id, accepted=True)


def _refused_refill(order_id: str, message: str) -> RefillResult:
    error = _error(message, "refill")
    return RefillResult(order_id=order_id, refill_id=None, accepted=False, error=error)


# --- refill_status ------------------------------------------------------------------------


def parse_refill_status(refill_id: str, body: Any) -> RefillStatus:
    """Single refill_status (also when answered as a list, S8); nested errors raise."""
    if isinstance(body, list):
        entries, _ = index_entries([refill_id], body, "refill")
        body = entries.get(refill_id, body[0] if len(body) == 1 else None)
    result = refill_status_entry(refill_id, body)
    if result.error is not None:
        raise result.error
    return result


def parse_multi_refill_status(ids: list[str], body: Any) -> dict[str, RefillStatus]:
    """refill_status with ``refills=``: a list of ``{"refill", "status"}`` or an id-keyed object."""
    found, _ = index_entries(ids, body, "refill")
    return {
        i: refill_status_entry(i, found[i])
        if i in found
        else RefillStatus(
            refill_id=i, status=None, raw_status=None, error=_missing("refill_status")
        )
        for i in ids
    }


def refill_status_entry(refill_id: str, entry: Any) -> RefillStatus:
    """One refill's status: a word, ``{"error": ...}``, or nested ``{"status": {"status"}}``."""
    value = entry
    while isinstance(value, Mapping):
        message = error_message(value)
        if message is not None:
            error = _error(message, "refill_status")
            return RefillStatus(refill_id=refill_id, status=None, raw_status=None, error=error)
        value = ci(value).get("status")
    if value is None or isinstance(value, list):
        error = UnexpectedResponse("no refill status in the answer", snippet=snippet(entry))
        return RefillStatus(refill_id=refill_id, status=None, raw_status=None, error=error)
    raw = str(value).strip()
    status = normalize_refill_status(raw)
    if status == "unknown" and classify_error(raw) != UNKNOWN_API_ERROR:
        error = _error(raw, "refill_status")  # a bare "Refill not found" in place of a status
        return RefillStatus(refill_id=refill_id, status=None, raw_status=raw, error=error)
    return RefillStatus(refill_id=refill_id, status=status, raw_status=raw)


# --- cancel -------------------------------------------------------------------------------


def parse_cancel(ids: list[str], body: Any) -> dict[str, CancelResult]:
    """Cancel with ``orders=``: ``1`` means *accepted* (Q13), prose success accepts all (Q14)."""
    if _is_bare_success(ids, body):
        return {i: CancelResult(order_id=i, accepted=True) for i in ids}
    found, _ = index_entries(ids, body, "order")
    return {
        i: cancel_entry(i, found[i])
        if i in found
        else CancelResult(order_id=i, accepted=False, error=_missing("cancel"))
        for i in ids
    }


def cancel_entry(order_id: str, entry: Any) -> CancelResult:
    """One order's cancel answer."""
    value = entry
    if isinstance(entry, Mapping):
        data = ci(entry)
        if "cancel" in data:
            value = data["cancel"]
        elif is_success_envelope(entry):
            return CancelResult(order_id=order_id, accepted=True)
    if isinstance(value, Mapping):
        message = error_message(value)
        if message is not None:
            return CancelResult(order_id=order_id, accepted=False, error=_error(message, "cancel"))
        return CancelResult(order_id=order_id, accepted=True)
    accepted = to_bool(value)
    if accepted is not None:
        return CancelResult(order_id=order_id, accepted=accepted)
    if isinstance(value, str) and value.strip():
        if classify_error(value) != UNKNOWN_API_ERROR:
            error = _error(value.strip(), "cancel")
            return CancelResult(order_id=order_id, accepted=False, error=error)
        return CancelResult(order_id=order_id, accepted=True)  # "Will be canceled asap"
    error = UnexpectedResponse("unreadable cancel answer", snippet=snippet(entry))
    return CancelResult(order_id=order_id, accepted=False, error=error)


def _is_bare_success(ids: list[str], body: Any) -> bool:
    """``{"success": "..."}`` / ``{"status": "success"}`` that names none of the ids."""
    return (
        isinstance(body, Mapping) and is_success_envelope(body) and not any(i in body for i in ids)
    )
