"""``add`` outcomes for every fault, through real HTTP (smm-api-v2.md §8.1, SPEC §5).

Covers Q19 (no idempotency: an add that timed out after sending is ambiguous, never
resent), Q20 (non-JSON → ambiguous for add), Q2 (5xx JSON without error → ambiguous) and
the httpx exception → outcome mapping of §8.1.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from providers import (
    AddRequest,
    ApiError,
    NonJSONResponse,
    RateLimited,
    SmmApiClient,
    TransportError,
)
from tests.fakes.provider_server import FakeProvider
from tests.harness.providers import API_KEY

FOLLOWERS = AddRequest(service="1", link="https://instagram.com/example", quantity=1000)


async def test_accepted_order_is_created_and_charged(fake: FakeProvider, client: Any) -> None:
    outcome = await client.add(FOLLOWERS)
    assert outcome.kind == "accepted" and outcome.accepted
    assert outcome.provider_order_id in fake.orders
    assert fake.orders[outcome.provider_order_id]["quantity"] == "1000"
    assert fake.balance == Decimal("100.00") - Decimal("0.90")


async def test_connection_refused_is_not_sent(make_client: Any) -> None:
    client = make_client(FakeProvider.closed_url())
    outcome = await client.add(FOLLOWERS)
    assert outcome.kind == "not_sent"
    assert isinstance(outcome.error, TransportError) and outcome.error.request_sent is False


async def test_stopped_server_is_not_sent(fake: FakeProvider, client: Any) -> None:
    await fake.stop()
    assert (await client.add(FOLLOWERS)).kind == "not_sent"


async def test_timeout_after_send_is_ambiguous_with_one_request(
    fake: FakeProvider, client: Any
) -> None:
    fake.set_fault("add", "timeout")
    outcome = await client.add(FOLLOWERS)
    assert outcome.kind == "ambiguous"
    assert isinstance(outcome.error, TransportError) and outcome.error.request_sent is True
    assert fake.count("add") == 1  # never retried inside the client
    assert len(fake.orders) == 1  # ...and the provider did create (and charge) it
    assert fake.balance < Decimal("100.00")


@pytest.mark.parametrize(
    ("fault", "error_type"),
    [
        ("http_500", NonJSONResponse),
        ("http_500_json", TransportError),
        ("html", NonJSONResponse),
        ("maintenance", NonJSONResponse),
        ("malformed_json", NonJSONResponse),
        ("empty_body", NonJSONResponse),
        ("disconnect", TransportError),
        ("rate_limited", RateLimited),
    ],
)
async def test_unclear_answers_are_ambiguous(
    fake: FakeProvider, client: Any, fault: str, error_type: type
) -> None:
    fake.set_fault("add", fault)
    outcome = await client.add(FOLLOWERS)
    assert outcome.kind == "ambiguous", outcome
    assert isinstance(outcome.error, error_type)
    assert fake.count("add") == 1
    assert outcome.reason and "manual check" in outcome.reason


async def test_json_without_order_or_error_is_ambiguous(fake: FakeProvider, client: Any) -> None:
    fake.respond("add", body={"status": "success", "msg": "ok"})
    assert (await client.add(FOLLOWERS)).kind == "ambiguous"


async def test_not_enough_funds_is_no_funds(fake: FakeProvider, client: Any) -> None:
    fake.set_fault("add", "not_enough_funds")
    outcome = await client.add(FOLLOWERS)
    assert outcome.kind == "no_funds"
    assert isinstance(outcome.error, ApiError) and outcome.error.code == "insufficient_funds"


async def test_real_balance_shortage_is_no_funds(fake: FakeProvider, client: Any) -> None:
    fake.balance = Decimal("0.10")
    outcome = await client.add(FOLLOWERS)
    assert outcome.kind == "no_funds"
    assert outcome.error.message == "Not enough funds on balance"
    assert not fake.orders


@pytest.mark.parametrize(
    ("request_", "code", "reason"),
    [
        (AddRequest(service="999", link="https://x.com/p", quantity=100), "invalid_service",
         "The provider does not offer this service any more."),
        (AddRequest(service="1", link="https://x.com/p", quantity=10), "quantity_below_min",
         "The quantity is below the minimum for this service."),
        (AddRequest(service="1", link="https://x.com/p", quantity=10**6), "quantity_above_max",
         "The quantity is above the maximum for this service."),
    ],
)  # fmt: skip
async def test_definite_refusals_are_rejected_with_plain_reason(
    fake: FakeProvider, client: Any, request_: AddRequest, code: str, reason: str
) -> None:
    outcome = await client.add(request_)
    assert outcome.kind == "rejected"
    assert outcome.error.code == code
    assert outcome.reason == reason
    assert not fake.orders


async def test_rejected_link_reason(fake: FakeProvider, client: Any) -> None:
    fake.respond("add", body={"error": "Incorrect link"})
    outcome = await client.add(FOLLOWERS)
    assert outcome.kind == "rejected"
    assert outcome.reason == "The provider rejected the link."
    assert outcome.error.message == "Incorrect link"  # raw text kept for the admin


async def test_wrong_key_is_rejected_and_stops_provider(http: httpx.AsyncClient, fake: Any) -> None:
    client = SmmApiClient(http, fake.url, "wrong-key-0123456789abcdef")
    outcome = await client.add(FOLLOWERS)
    assert outcome.kind == "rejected"
    assert outcome.error.code == "invalid_key" and outcome.error.stop_provider


async def test_missing_required_field_raises_before_sending(
    fake: FakeProvider, client: Any
) -> None:
    with pytest.raises(ValueError, match="link"):
        await client.add(AddRequest(service="1", quantity=100))
    assert fake.count() == 0


# --- httpx exception → outcome (the mapping itself; the network can't produce each one) ---


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectError("refused"), "not_sent"),
        (httpx.ConnectTimeout("slow connect"), "not_sent"),
        (httpx.PoolTimeout("pool full"), "not_sent"),
        (httpx.ReadTimeout("slow read"), "ambiguous"),
        (httpx.ReadError("reset"), "ambiguous"),
        (httpx.WriteError("broken pipe"), "ambiguous"),
        (httpx.WriteTimeout("slow write"), "ambiguous"),
        (httpx.RemoteProtocolError("server disconnected"), "ambiguous"),
    ],
)
async def test_httpx_failure_mapping(exc: Exception, kind: str) -> None:
    def boom(request: httpx.Request) -> httpx.Response:
        raise exc

    async with httpx.AsyncClient(transport=httpx.MockTransport(boom)) as http:
        client = SmmApiClient(http, "https://panel.example/api/v2", API_KEY)
        outcome = await client.add(FOLLOWERS)
    assert outcome.kind == kind
    assert isinstance(outcome.error, TransportError)
    assert outcome.error.request_sent is (kind == "ambiguous")


async def test_empty_link_is_the_providers_to_refuse(fake: FakeProvider, client: Any) -> None:
    outcome = await client.add(AddRequest(service="1", link="  ", quantity=100))
    assert fake.requests[0].form["link"] == ""
    assert outcome.kind == "rejected" and outcome.error.code == "invalid_link"
    assert outcome.reason == "The provider rejected the link."


async def test_5xx_with_any_error_is_ambiguous(fake: FakeProvider, client: Any) -> None:
    fake.respond("add", http_status=500, body={"error": "Internal error, please retry"})
    assert (await client.add(FOLLOWERS)).kind == "ambiguous"
    # Even words we know: a server that crashed may have created the order first (SPEC §5),
    # and "no funds" would send it again later.
    fake.respond("add", http_status=500, body={"error": "Not enough funds on balance"})
    assert (await client.add(FOLLOWERS)).kind == "ambiguous"
    fake.respond("add", http_status=200, body={"error": "Something odd"})
    assert (await client.add(FOLLOWERS)).kind == "rejected"  # PP: HTTP 200 + error = refusal
