"""Every provider call has an overall deadline and an answer size limit (SPEC §5.4); lanes
pace per provider, adds first, and honour rate-limit headers."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import pytest

from providers import AddRequest, ProviderRegistry, TransportError
from providers.ratelimit import ADD, READ, Lane, LocalSlots, RedisSlots
from tests.fakes.provider_server import FakeProvider

ORDER = AddRequest(service="1", link="https://instagram.com/p/abc", quantity=100)


async def test_trickled_add_is_ambiguous_at_its_deadline(fake: FakeProvider, make_client: Any):
    """1 byte per 0.2 s never trips httpx's per-chunk read timeout; the deadline does."""
    fake.trickle_interval = 0.2
    fake.set_fault("add", "trickle", times=1)
    client = make_client(read_timeout=5.0, add_timeout=1.0)
    started = time.monotonic()
    outcome = await client.add(ORDER)
    assert time.monotonic() - started < 2.0
    assert outcome.kind == "ambiguous"  # the provider has the order: review, never resent
    assert "within 1 s" in outcome.error.message
    assert len(fake.orders) == 1


async def test_trickled_read_fails_at_its_deadline(fake: FakeProvider, make_client: Any):
    fake.trickle_interval = 0.2
    fake.set_fault("balance", "trickle")
    client = make_client(read_timeout=0.6, read_retries=1)
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        await client.balance()
    assert caught.value.request_sent  # a read: retried next cycle
    assert time.monotonic() - started < 2.5
    assert fake.count("balance") == 2


async def test_add_deadline_is_shorter_than_services(make_client: Any):
    client = make_client(read_timeout=20.0, services_read_timeout=60.0)
    assert client.deadlines["add"] < client.read_deadline < client.deadlines["services"]


async def test_huge_answer_is_cut_and_classified(fake: FakeProvider, make_client: Any):
    fake.huge_bytes = 1024 * 1024
    fake.set_fault("add", "huge", times=1)
    fake.set_fault("status", "huge")
    client = make_client(max_answer_bytes=64 * 1024, read_retries=0, read_timeout=5.0)
    outcome = await client.add(ORDER)
    assert outcome.kind == "ambiguous"
    assert "larger than 65536 bytes" in outcome.error.message
    result = await client.multi_status(["1", "2"])
    assert set(result.failed) == {"1", "2"}


async def test_declared_oversize_is_refused_before_reading(fake: FakeProvider, make_client: Any):
    fake.respond("balance", body_text=" " * 200_000 + '{"balance": "1", "currency": "USD"}')
    client = make_client(max_answer_bytes=100_000, read_retries=0)
    with pytest.raises(TransportError, match="larger than 100000 bytes"):
        await client.balance()


async def test_ratelimit_remaining_zero_pauses_the_lane(fake: FakeProvider, make_client: Any):
    fake.respond("balance", body={"balance": "5", "currency": "USD"},
                 headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "0.5"})  # fmt: skip
    client = make_client()
    await client.balance()
    started = time.monotonic()
    await client.balance()
    assert time.monotonic() - started >= 0.45


async def test_429_on_add_pauses_every_caller(fake: FakeProvider, make_client: Any):
    fake.retry_after = "0.5"
    fake.set_fault("add", "rate_limited", times=1)
    client = make_client()
    outcome = await client.add(ORDER)
    assert outcome.kind != "accepted"
    started = time.monotonic()
    await client.balance()
    assert time.monotonic() - started >= 0.45


async def test_saturated_lane_grants_adds_before_reads():
    lane = Lane("t", rate=1000, concurrency=1)
    order: list[str] = []
    gate = asyncio.Event()

    async def hold() -> None:
        async with lane.turn(READ):
            await gate.wait()

    async def one(name: str, priority: int) -> None:
        async with lane.turn(priority):
            order.append(name)

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0.01)
    waiting = [asyncio.create_task(one(f"read{i}", READ)) for i in range(3)]
    await asyncio.sleep(0.01)
    waiting.append(asyncio.create_task(one("add", ADD)))
    await asyncio.sleep(0.01)
    gate.set()
    await asyncio.gather(holder, *waiting)
    assert order[0] == "add"


async def test_lane_rate_is_settable_while_running():
    lane = Lane("t", rate=5, concurrency=2, burst=1)
    started = time.monotonic()
    for _ in range(3):
        async with lane.turn():
            pass
    assert time.monotonic() - started >= 0.35  # 5/s, evenly spaced
    lane.configure(1000, 2, burst=1)
    started = time.monotonic()
    for _ in range(20):
        async with lane.turn():
            pass
    assert time.monotonic() - started < 0.3


async def test_abandoned_waiter_does_not_hold_the_lane():
    lane = Lane("t", rate=1000, concurrency=1)
    async with lane.turn():
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                async with lane.turn():
                    pass
    async with asyncio.timeout(1):
        async with lane.turn():
            pass
    assert lane.in_flight == 0


async def test_registry_paces_each_provider_as_its_row_says():
    class Row:
        id, name, api_url, api_key = 7, "p", "https://panel.example/api/v2", "k" * 20
        rate_per_second, concurrency = 2.5, 3

    async with ProviderRegistry() as registry:
        client = registry.get(Row())
        assert (client.lane.rate, client.lane.concurrency) == (2.5, 3)
        Row.rate_per_second, Row.concurrency = None, None
        client = registry.get(Row())
        assert (client.lane.rate, client.lane.concurrency) == (5.0, 4)  # the defaults


def test_local_slots_burst_then_steady():
    slots = LocalSlots()
    waits = [slots.reserve_now("k", 0.1, burst=3) for _ in range(5)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(0.1, abs=0.02) and waits[4] == pytest.approx(0.2, abs=0.02)


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="TEST_REDIS_URL not set")
async def test_pacing_holds_across_replicas_with_redis():
    """Two processes' lanes on one Redis share the provider's rate."""
    from redis.asyncio import Redis

    redis = Redis.from_url(os.environ["TEST_REDIS_URL"])
    key = f"provider:test-{time.monotonic_ns()}"
    replicas = [Lane(key, rate=10, concurrency=4, burst=1, slots=RedisSlots(redis)) for _ in "ab"]
    started = time.monotonic()

    async def use(lane: Lane) -> None:
        for _ in range(5):
            async with lane.turn():
                pass

    await asyncio.gather(*(use(lane) for lane in replicas))
    # 10 requests at 10/s overall: ≥ 0.9 s (alone, each replica would take 0.4 s).
    assert time.monotonic() - started >= 0.85
    await replicas[0].pause(0.5)
    started = time.monotonic()
    async with replicas[1].turn():
        pass
    assert time.monotonic() - started >= 0.4  # the pause reached the other replica
    await redis.aclose()
