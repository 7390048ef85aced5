"""The fault matrix: every provider action × every way a provider fails, over real HTTP.

Documented outcomes (docs/reliability.md, SPEC §5):

* ``add``: never sent → ``not_sent`` (retried later); a definite ``{"error"}`` → ``rejected``;
  anything else → ``ambiguous`` (review, never resent). Exactly one request reached the
  provider: the client never repeats an add.
* single reads and a refill request: a ProviderError, never a made-up value.
* many-id actions (multi status, multi refill, refill statuses, cancel): every id comes back
  failed or refused, none as a success; they never raise.

Every cell ends within the call's overall deadline (here 0.5 s) plus a margin: a trickled,
endless or oversized answer is cut, and nobody waits for it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from providers import AddRequest, ProviderError, SmmApiClient
from providers.types import (
    CancelResult,
    MultiStatusResult,
    RefillResult,
    RefillStatus,
    RemoteOrderStatus,
)
from tests.fakes.provider_server import FakeProvider

FOLLOWERS = AddRequest(service="1", link="https://instagram.com/example", quantity=1000)
IDS = ["101", "102"]
DEADLINE = 0.5
MARGIN = 2.5  # a loaded test machine; the point is "seconds", not "minutes"

# action name → (wire action, the call)
ACTIONS: dict[str, tuple[str, Callable[[SmmApiClient], Awaitable[Any]]]] = {
    "add": ("add", lambda c: c.add(FOLLOWERS)),
    "status": ("status", lambda c: c.status("101")),
    "multi_status": ("status", lambda c: c.multi_status(IDS)),
    "services": ("services", lambda c: c.services()),
    "balance": ("balance", lambda c: c.balance()),
    "refill": ("refill", lambda c: c.refill("101")),
    "multi_refill": ("refill", lambda c: c.multi_refill(IDS)),
    "refill_status": ("refill_status", lambda c: c.refill_status("101")),
    "multi_refill_status": ("refill_status", lambda c: c.multi_refill_status(IDS)),
    "cancel": ("cancel", lambda c: c.cancel(IDS)),
}

# A JSON answer of the right envelope whose values have the wrong types.
WRONG_TYPES: dict[str, Any] = {
    "add": {"order": [12345], "charge": {"x": 1}},
    "status": {"status": ["Completed"], "charge": {}, "remains": [1]},
    "services": {"services": "all of them"},
    "balance": {"balance": {"amount": 5}, "currency": 7},
    "refill": {"refill": [1, 2]},
    "refill_status": {"status": {"x": 1}},
    "cancel": "cancelled",
}


def arrange(fake: FakeProvider, wire: str, fault: str) -> None:
    """Make every request of `wire` fail the way `fault` says (reads are not retried here)."""
    canned: dict[str, dict[str, Any]] = {
        "502 HTML": {
            "http_status": 502,
            "content_type": "text/html",
            "body_text": "<html><head><title>502 Bad Gateway</title></head></html>",
        },
        "wrong types": {"body": WRONG_TYPES[wire]},
        '{"error"}': {"body": {"error": "Incorrect request"}},
        "redirect": {
            "http_status": 302,
            "body": {"order": 1, "status": "Completed", "balance": "1"},
            "headers": {"Location": "https://moved.example/api/v2"},
        },
    }
    faults = {
        "timeout after send": "timeout",
        "500": "http_500",
        "malformed JSON": "malformed_json",
        "empty body": "empty_body",
        "trickled body": "trickle",
        "endless body": "endless",
        "oversized body": "huge",
    }
    if fault in canned:
        fake.respond(wire, times=None, **canned[fault])
    elif fault in faults:
        fake.set_fault(wire, faults[fault])
    else:
        assert fault == "timeout before send"


FAULTS = [
    "timeout before send",
    "timeout after send",
    "500",
    "502 HTML",
    "malformed JSON",
    "wrong types",
    '{"error"}',
    "empty body",
    "trickled body",
    "endless body",
    "oversized body",
    "redirect",
]


def failed_everywhere(result: Any) -> bool:
    """A many-id answer in which no id passes for a success."""
    if isinstance(result, MultiStatusResult):
        return not any(isinstance(v, RemoteOrderStatus) for v in result.results.values())
    values = list(result.values())
    if len(values) != len(IDS):
        return False
    for value in values:
        if isinstance(value, RefillResult | CancelResult) and value.accepted:
            return False
        if isinstance(value, RefillStatus) and value.error is None:
            return False
    return True


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("action", list(ACTIONS))
async def test_every_action_fails_the_documented_way(
    fake: FakeProvider, make_client: Any, action: str, fault: str
) -> None:
    wire, call = ACTIONS[action]
    fake.trickle_interval = 0.05
    url = FakeProvider.closed_url() if fault == "timeout before send" else None
    client = make_client(
        url,
        read_retries=0,
        read_timeout=DEADLINE,
        services_read_timeout=DEADLINE,
        max_answer_bytes=256 * 1024,
        max_services_bytes=256 * 1024,
    )
    arrange(fake, wire, fault)
    started = time.monotonic()
    try:
        result: Any = await call(client)
    except ProviderError as exc:
        result = exc
    took = time.monotonic() - started
    assert took < DEADLINE + MARGIN, f"{action} × {fault} took {took:.1f} s"

    received = fake.count(wire)
    if action == "add":
        expected = {"timeout before send": "not_sent", '{"error"}': "rejected"}
        assert result.kind == expected.get(fault, "ambiguous"), (fault, result)
        assert result.provider_order_id is None
        assert received == (0 if fault == "timeout before send" else 1)
    elif action.startswith("multi_") or action == "cancel":
        assert failed_everywhere(result), (fault, result)
    else:
        assert isinstance(result, ProviderError), (fault, result)
    assert received <= 1  # one request per call: nothing is repeated behind our back
