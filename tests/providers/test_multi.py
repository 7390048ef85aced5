"""Batch calls: chunking, per-id mapping, per-entry errors, whole-chunk failures (Q11, Q12, Q31)."""

from __future__ import annotations

from typing import Any

from providers import OrderLookupError, RemoteOrderStatus, TransportError
from tests.fakes.provider_server import FakeProvider


async def test_250_ids_take_exactly_three_requests(fake: FakeProvider, client: Any) -> None:
    ids = [fake.create_order(quantity=100 + i) for i in range(250)]
    fake.set_status(ids[0], "Completed", remains=0)
    fake.set_status(ids[150], "Partial", remains=7)
    fake.set_status(ids[249], "In progress", remains=30)

    result = await client.multi_status(ids)

    sent = [r.form["orders"].split(",") for r in fake.requests_for("status")]
    assert len(sent) == 3
    assert sorted(len(chunk) for chunk in sent) == [50, 100, 100]
    assert sorted((i for chunk in sent for i in chunk), key=int) == ids  # each once
    assert all("order" not in r.form for r in fake.requests_for("status"))
    assert set(result.results) == set(ids) and not result.missing and not result.failed
    assert result.results[ids[0]].status == "completed"
    assert (result.results[ids[150]].status, result.results[ids[150]].remains) == ("partial", 7)
    assert result.results[ids[249]].status == "in_progress"
    assert result.results[ids[10]].remains == 110  # mapped to the right id, not by position


async def test_duplicate_and_blank_ids_are_sent_once(fake: FakeProvider, client: Any) -> None:
    a, b = fake.create_order(), fake.create_order()
    result = await client.multi_status([a, b, a, f" {b} ", "", int(a)])
    assert fake.count("status") == 1
    assert fake.requests[0].form["orders"] == f"{a},{b}"
    assert set(result.results) == {a, b}


async def test_bad_entry_affects_only_that_id(fake: FakeProvider, client: Any) -> None:
    ids = [fake.create_order() for _ in range(5)]
    fake.bad_entry_id = ids[2]
    fake.set_fault("status", "bad_entry")
    result = await client.multi_status(ids)
    bad = result.results[ids[2]]
    assert isinstance(bad, OrderLookupError) and bad.code == "order_not_found"
    assert bad.reason == "The provider does not know this order."
    good = {i: result.results[i] for i in ids if i != ids[2]}
    assert all(isinstance(s, RemoteOrderStatus) and s.status == "pending" for s in good.values())
    assert result.lookup_errors().keys() == {ids[2]} and len(result.statuses()) == 4


async def test_failed_chunk_does_not_abort_the_others(fake: FakeProvider, make_client: Any) -> None:
    ids = [fake.create_order() for _ in range(150)]
    fake.set_fault("status", "http_500", times=1)  # whichever chunk arrives first
    result = await make_client(read_retries=0).multi_status(ids)
    assert fake.count("status") == 2
    assert len(result.failed) in (50, 100)
    assert set(result.failed) | set(result.results) == set(ids)
    assert not set(result.failed) & set(result.results)
    assert all(type(e).__name__ == "NonJSONResponse" for e in result.failed.values())


async def test_unreachable_provider_reports_every_id_failed(make_client: Any) -> None:
    client = make_client(FakeProvider.closed_url(), read_retries=0)
    result = await client.multi_status(["1", "2", "3"])
    assert set(result.failed) == {"1", "2", "3"} and not result.results
    assert all(isinstance(e, TransportError) for e in result.failed.values())


async def test_ids_absent_from_answer_are_missing(fake: FakeProvider, client: Any) -> None:
    fake.respond("status", body={"1": {"status": "Completed", "remains": "0"}})
    result = await client.multi_status(["1", "2"])
    assert result.missing == ["2"] and "2" not in result.failed


async def test_empty_id_list_sends_nothing(fake: FakeProvider, client: Any) -> None:
    result = await client.multi_status([])
    assert not result.results and fake.count() == 0


async def test_cancel_batches_with_orders_field(fake: FakeProvider, client: Any) -> None:
    pending = fake.create_order(service=1)
    running = fake.create_order(service=1, status="In progress")
    no_cancel = fake.create_order(service=4)
    results = await client.cancel([pending, running, no_cancel, "777"])
    assert fake.count("cancel") == 1
    assert fake.requests[0].form["orders"] == f"{pending},{running},{no_cancel},777"
    assert results[pending].accepted and results[pending].error is None
    assert results[running].error.code == "cancel_not_allowed"  # Q25: only while pending
    assert results[no_cancel].error.code == "cancel_not_allowed"
    assert results["777"].error.code == "order_not_found"
    # Q13: accepted is only a request; the status tells what happened.
    assert (await client.status(pending)).status == "canceled"


async def test_multi_refill_per_order(fake: FakeProvider, client: Any) -> None:
    done = fake.create_order(service=1, status="Completed")
    not_done = fake.create_order(service=1)
    results = await client.multi_refill([done, not_done])
    assert fake.count("refill") == 1 and fake.requests[0].form["orders"] == f"{done},{not_done}"
    assert results[done].accepted and results[done].refill_id
    assert results[not_done].error.code == "refill_not_allowed"


async def test_cancel_of_201_ids_is_chunked(fake: FakeProvider, client: Any) -> None:
    ids = [str(10_000 + i) for i in range(201)]
    results = await client.cancel(ids)
    assert fake.count("cancel") == 3 and len(results) == 201
