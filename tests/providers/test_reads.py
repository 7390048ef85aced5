"""Read-only actions over real HTTP: faults, retries, 429, pacing, canonical PP behaviour."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from providers import (
    AddRequest,
    ApiError,
    NonJSONResponse,
    RateLimited,
    TransportError,
)
from tests.fakes.provider_server import FakeProvider


async def test_html_on_read_raises_non_json(fake: FakeProvider, make_client: Any) -> None:
    fake.set_fault("status", "html")
    with pytest.raises(NonJSONResponse) as caught:
        await make_client(read_retries=0).status("1000")
    assert caught.value.status_code == 503 and caught.value.blocked_by_waf
    assert caught.value.retryable


async def test_transient_read_failure_is_retried(fake: FakeProvider, client: Any) -> None:
    fake.set_fault("balance", "http_500", times=1)
    balance = await client.balance()
    assert balance.amount == Decimal("100.00") and balance.currency == "USD"
    assert fake.count("balance") == 2


async def test_read_retries_are_bounded(fake: FakeProvider, make_client: Any) -> None:
    fake.set_fault("balance", "malformed_json")
    with pytest.raises(NonJSONResponse):
        await make_client(read_retries=2).balance()
    assert fake.count("balance") == 3


async def test_read_timeout_raises_transport_error(fake: FakeProvider, make_client: Any) -> None:
    fake.set_fault("status", "timeout")
    with pytest.raises(TransportError) as caught:
        await make_client(read_retries=0).status("1000")
    assert caught.value.request_sent is True and caught.value.retryable


async def test_connection_refused_on_read(make_client: Any) -> None:
    with pytest.raises(TransportError) as caught:
        await make_client(FakeProvider.closed_url(), read_retries=0).balance()
    assert caught.value.request_sent is False


async def test_429_on_read_waits_retry_after_then_succeeds(fake: FakeProvider, client: Any) -> None:
    fake.retry_after = "1"
    fake.set_fault("balance", "rate_limited", times=1)
    started = time.monotonic()
    balance = await client.balance()
    assert time.monotonic() - started >= 0.9  # honoured Retry-After: 1
    assert balance.amount == Decimal("100.00")
    assert fake.count("balance") == 2


async def test_429_with_too_long_wait_is_raised(fake: FakeProvider, client: Any) -> None:
    fake.retry_after = "3600"
    fake.set_fault("status", "rate_limited")
    with pytest.raises(RateLimited) as caught:
        await client.status("1")
    assert caught.value.retry_after == 3600
    assert fake.count("status") == 1


async def test_429_x_ratelimit_reset_delay(fake: FakeProvider, client: Any) -> None:
    """S13's X-RateLimit-Reset as a delay in seconds (not an epoch)."""
    fake.respond("balance", http_status=429, body={"error": "Too many"},
                 headers={"X-RateLimit-Reset": "0.3"})  # fmt: skip
    started = time.monotonic()
    await client.balance()
    assert time.monotonic() - started >= 0.25
    assert fake.count("balance") == 2


async def test_refill_and_cancel_are_not_retried(fake: FakeProvider, client: Any) -> None:
    fake.set_fault("*", "http_500")
    with pytest.raises(NonJSONResponse):
        await client.refill("1000")
    results = await client.cancel(["1000"])
    assert results["1000"].accepted is False
    assert isinstance(results["1000"].error, NonJSONResponse)
    assert fake.count("refill") == 1 and fake.count("cancel") == 1


async def test_token_bucket_paces_requests(fake: FakeProvider, make_client: Any) -> None:
    client = make_client(requests_per_second=20)
    started = time.monotonic()
    for _ in range(30):
        await client.balance()
    # 20 in the initial burst, the other 10 at 20/s.
    assert time.monotonic() - started >= 0.45


async def test_concurrency_limit(fake: FakeProvider, make_client: Any) -> None:
    import asyncio

    fake.timeout_sleep = 0.2  # the "timeout" fault as a slow-but-answering server
    fake.set_fault("balance", "timeout")
    client = make_client(max_concurrency=2, read_timeout=2.0)
    started = time.monotonic()
    await asyncio.gather(*(client.balance() for _ in range(4)))
    assert time.monotonic() - started >= 0.38  # two waves of two


async def test_services_from_canonical_fake(client: Any) -> None:
    services = {s.id: s for s in await client.services()}
    assert services["1"].type == "default" and services["1"].rate == Decimal("0.90")
    assert services["2"].type == "custom_comments"
    assert services["3"].type == "package" and services["3"].rate_basis == "flat"
    assert services["5"].type == "subscriptions"


async def test_full_order_life_against_canonical_fake(fake: FakeProvider, client: Any) -> None:
    outcome = await client.add(AddRequest(service="1", link="https://x.com/p", quantity=500))
    order_id = outcome.provider_order_id
    status = await client.status(order_id)
    assert (status.status, status.remains, status.charge) == ("pending", 500, Decimal("0.45"))
    fake.set_status(order_id, "In progress", remains=200, start_count=1234)
    status = await client.status(order_id)
    assert (status.status, status.remains, status.start_count) == ("in_progress", 200, 1234)
    fake.set_status(order_id, "Partial", remains=40, charge="0.432")
    status = await client.status(order_id)
    assert status.status == "partial" and status.terminal and status.charge == Decimal("0.432")


async def test_unknown_order_status_raises_order_not_found(client: Any) -> None:
    with pytest.raises(ApiError) as caught:
        await client.status("424242")
    assert caught.value.code == "order_not_found"


async def test_refill_cycle_against_canonical_fake(fake: FakeProvider, client: Any) -> None:
    order_id = fake.create_order(service=1, status="Completed")
    refill = await client.refill(order_id)
    assert refill.accepted and refill.refill_id
    assert (await client.refill_status(refill.refill_id)).status == "pending"
    fake.set_refill_status(refill.refill_id, "Completed")
    assert (await client.refill_status(refill.refill_id)).status == "completed"
    many = await client.multi_refill_status([refill.refill_id, "999"])
    assert many[refill.refill_id].status == "completed"
    assert many["999"].error.code == "refill_not_found"
    assert fake.requests_for("refill_status")[-1].form["refills"] == f"{refill.refill_id},999"
