"""Status sync against the fake provider over HTTP (SPEC §5): batches of ≤100 ids, isolated
per-id errors, exact partial refunds, exactly once under repeats, restarts and replicas."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import event, select

import core.status_sync
from core.customer_requests import request_refill
from core.refill_sync import REFILL_STATUS, sync_refill_statuses
from core.status_sync import sync_order_statuses
from core.statuses import OrderStatus
from db.models import Refill
from tests.harness.panel import Panel
from tests.harness.settings import CUSTOMER

SEED = Decimal("100000")


async def cycle(panel: Panel) -> core.status_sync.SyncReport:
    return await sync_order_statuses(panel.sm, panel.registry)


async def test_250_active_orders_take_three_status_requests_per_cycle(panel: Panel) -> None:
    orders = await panel.add_orders(250)
    report = await cycle(panel)
    requests = panel.fake.requests_for("status")
    assert len(requests) == 3 and report.requests == 3
    sizes = sorted(len(r.form["orders"].split(",")) for r in requests)
    assert sizes == [50, 100, 100]
    asked = {i for r in requests for i in r.form["orders"].split(",")}
    assert asked == {remote for _, remote in orders}
    await cycle(panel)
    assert panel.fake.count("status") == 6


async def test_active_orders_are_listed_a_page_at_a_time(
    any_panel: Panel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cycle's list of active orders is read LIST_PAGE orders per statement (only one
    page of the driver's rows is held at once); every active order is on it once, in id
    order, a finished one never, and a whole cycle asks the provider for each."""
    panel = any_panel
    monkeypatch.setattr(core.status_sync, "LIST_PAGE", 7)
    active = await panel.add_orders(10)
    await panel.add_orders(3, status=OrderStatus.COMPLETED)
    active += await panel.add_orders(10)
    listings: list[str] = []

    def seen(conn, cursor, statement: str, *args: object) -> None:
        if "LIMIT" in statement and "provider_order_id" in statement:
            listings.append(statement)

    event.listen(panel.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with panel.sm() as session:
            listed = await core.status_sync.active_remote_ids(session)
    finally:
        event.remove(panel.engine.sync_engine, "before_cursor_execute", seen)
    assert listed == {panel.provider_id: active}
    assert len(listings) == 3  # 7 + 7 + 6
    report = await cycle(panel)
    asked = [i for r in panel.fake.requests_for("status") for i in r.form["orders"].split(",")]
    assert sorted(asked) == sorted(remote for _, remote in active) and report.items == 20


async def test_a_bad_id_in_a_batch_never_blocks_the_others(any_panel: Panel) -> None:
    panel = any_panel
    orders = await panel.add_orders(5)
    for _, remote in orders:
        panel.fake.set_status(remote, "In progress", start_count=120)
    bad_id, bad_remote = orders[2]
    panel.fake.bad_entry_id = bad_remote
    panel.fake.set_fault("status", "bad_entry", times=1)
    report = await cycle(panel)
    assert report.changed == 4 and report.refused == 1
    after = await panel.orders()
    for order_id, _ in orders:
        if order_id == bad_id:
            assert after[order_id].status == OrderStatus.PENDING
            assert "Incorrect order ID" in (after[order_id].last_error or "")
        else:
            assert after[order_id].status == OrderStatus.IN_PROGRESS
            assert after[order_id].start_count == 120
    notes = await panel.notifications(kind="order_status")
    assert sorted(n.payload["order_id"] for n in notes) == sorted(
        i for i, _ in orders if i != bad_id
    )
    await cycle(panel)  # the provider answers for it again: it catches up
    assert (await panel.orders())[bad_id].status == OrderStatus.IN_PROGRESS


async def test_ids_missing_from_the_answer_stay_unchanged(panel: Panel) -> None:
    (first, first_remote), (second, _) = await panel.add_orders(2)
    panel.fake.respond(
        "status",
        body={first_remote: {"status": "Completed", "remains": "0", "charge": "0.9"}},
    )
    report = await cycle(panel)
    assert report.changed == 1 and report.missing == 1
    after = await panel.orders()
    assert after[first].status == OrderStatus.COMPLETED and after[first].cost == Decimal("0.9")
    assert after[second].status == OrderStatus.PENDING and after[second].last_error is None


async def test_a_failed_chunk_changes_nothing_and_is_logged(panel: Panel) -> None:
    orders = await panel.add_orders(3)
    panel.fake.set_status(orders[0][1], "Canceled")
    panel.fake.set_fault("status", "http_500", times=1)
    report = await cycle(panel)
    assert report.failed == 3 and report.changed == 0
    assert {o.status for o in (await panel.orders()).values()} == {OrderStatus.PENDING}
    assert await panel.refunds() == {}
    await cycle(panel)
    assert (await panel.orders())[orders[0][0]].status == OrderStatus.CANCELED
    assert await panel.refunds() == {orders[0][0]: [Decimal("2.00")]}


async def test_partial_refunds_exactly_a_quarter_and_only_once(any_panel: Panel) -> None:
    panel = any_panel
    [(order_id, remote)] = await panel.add_orders(1)  # 1000 units charged 2.00
    panel.fake.set_status(remote, "Partial", remains=250, start_count=40, charge="0.675")
    await cycle(panel)
    await cycle(panel)  # the same Partial seen again
    order = (await panel.orders())[order_id]
    assert order.status == OrderStatus.PARTIAL and order.remains == 250
    assert order.refunded == Decimal("0.5") and order.cost == Decimal("0.675")
    assert await panel.refunds() == {order_id: [Decimal("0.5")]}
    assert await panel.balance() == SEED - Decimal("2.00") + Decimal("0.5")
    [note] = await panel.notifications(kind="order_status")
    assert note.payload["new"] == "partial" and note.payload["refund"] == "0.50000000"
    assert note.payload["remains"] == 250


async def test_refund_is_rounded_down_to_the_money_precision(panel: Panel) -> None:
    [(order_id, remote)] = await panel.add_orders(1, quantity=333)  # charged 0.666
    panel.fake.set_status(remote, "Partial", remains=100)
    await cycle(panel)
    # 0.666 × 100 / 333 = 0.2 exactly; 0.666 × 1 / 3 would be 0.222 repeating
    assert await panel.refunds() == {order_id: [Decimal("0.2")]}
    [(other, other_remote)] = await panel.add_orders(1, quantity=300)  # charged 0.60
    panel.fake.set_status(other_remote, "Partial", remains=7)
    await cycle(panel)
    assert (await panel.refunds())[other] == [Decimal("0.014")]
    [(third, third_remote)] = await panel.add_orders(1, quantity=900)  # charged 1.80
    panel.fake.set_status(third_remote, "Partial", remains=1)
    await cycle(panel)
    # 1.80 / 900 = 0.002; times 1; with quantity 999 it would be 0.0018018018 → 0.00180180
    assert (await panel.refunds())[third] == [Decimal("0.002")]


async def test_canceled_refunds_in_full_once_across_a_restart(any_panel: Panel) -> None:
    panel = any_panel
    orders = await panel.add_orders(4)
    for _, remote in orders[:2]:
        panel.fake.set_status(remote, "Canceled")
    for _, remote in orders[2:]:
        panel.fake.set_status(remote, "Partial", remains=500)
    await cycle(panel)
    restarted = panel.reopen()  # a new process: new engine, new provider clients
    await cycle(restarted)
    await cycle(restarted)
    refunds = await restarted.refunds()
    assert refunds == {
        orders[0][0]: [Decimal("2.00")],
        orders[1][0]: [Decimal("2.00")],
        orders[2][0]: [Decimal("1.00")],
        orders[3][0]: [Decimal("1.00")],
    }
    assert await restarted.balance() == SEED - Decimal("2.00")
    assert len(await restarted.notifications(kind="order_status")) == 4


async def test_a_sync_interrupted_mid_chunk_refunds_once_after_restart(
    panel: Panel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job is torn down (shutdown, crash) in the middle of its second chunk's
    transaction, after the chunk's refunds, history and messages were written: chunk one is
    kept, chunk two rolled back, and the next process finishes."""
    orders = await panel.add_orders(250)
    for _, remote in orders:
        panel.fake.set_status(remote, "Partial", remains=500)
    monkeypatch.setattr(core.status_sync, "CHUNK_CONCURRENCY", 1)
    real_apply = core.status_sync.apply_answers
    chunks_applied = 0
    running: asyncio.Task[object] | None = None

    async def apply_then_die(*args: object, **kwargs: object) -> object:
        nonlocal chunks_applied
        written = await real_apply(*args, **kwargs)  # type: ignore[arg-type]
        chunks_applied += 1
        if chunks_applied == 2:  # the second chunk written, its transaction still open
            assert running is not None
            running.cancel()
            await asyncio.sleep(0)
        return written

    monkeypatch.setattr(core.status_sync, "apply_answers", apply_then_die)
    running = asyncio.create_task(cycle(panel))
    with pytest.raises(asyncio.CancelledError):
        await running
    refunded = await panel.refunds()
    assert len(refunded) == 100  # exactly the first chunk: the second rolled back whole
    assert len(await panel.notifications(kind="order_status")) == 100
    monkeypatch.setattr(core.status_sync, "apply_answers", real_apply)

    restarted = panel.reopen()
    await cycle(restarted)
    await cycle(restarted)
    refunds = await restarted.refunds()
    assert len(refunds) == 250
    assert all(amounts == [Decimal("1.00")] for amounts in refunds.values())
    assert await restarted.balance() == SEED - 250 * Decimal("2.00") + 250 * Decimal("1.00")
    notes = await restarted.notifications(kind="order_status")
    assert sorted(n.payload["order_id"] for n in notes) == sorted(i for i, _ in orders)


async def test_two_replicas_syncing_at_once_refund_and_notify_once(any_panel: Panel) -> None:
    panel = any_panel
    orders = await panel.add_orders(120)
    for _, remote in orders:
        panel.fake.set_status(remote, "Partial", remains=250)
    other = panel.reopen()
    await asyncio.gather(cycle(panel), cycle(other), cycle(panel.reopen()))
    refunds = await panel.refunds()
    assert len(refunds) == 120
    assert all(amounts == [Decimal("0.5")] for amounts in refunds.values())
    notes = await panel.notifications(kind="order_status")
    assert len(notes) == 120
    assert await panel.history_count() == 240  # the seeded row and one change each


async def test_refill_statuses_are_synced_and_the_customer_told(panel: Panel) -> None:
    orders = await panel.add_orders(2, status=OrderStatus.COMPLETED, remote_status="Completed")
    async with panel.sm() as session:
        for order_id, _ in orders:
            result = await request_refill(session, panel.registry, CUSTOMER, order_id)
            assert result.ok, result
    async with panel.sm() as session:
        refills = list(await session.scalars(select(Refill).order_by(Refill.id)))
    (done_id, done_remote), (rejected_id, rejected_remote) = [
        (r.id, r.provider_refill_id) for r in refills
    ]
    panel.fake.set_refill_status(done_remote, "In progress")
    await sync_refill_statuses(panel.sm, panel.registry)
    assert await panel.notifications(kind=REFILL_STATUS) == []
    panel.fake.set_refill_status(done_remote, "Completed")
    panel.fake.set_refill_status(rejected_remote, "Rejected")
    report = await sync_refill_statuses(panel.sm, panel.registry)
    assert report.changed == 2 and report.requests == 1
    async with panel.sm() as session:
        assert (await session.get(Refill, done_id)).status == "completed"  # type: ignore[union-attr]
        assert (await session.get(Refill, rejected_id)).status == "rejected"  # type: ignore[union-attr]
    notes = await panel.notifications(kind=REFILL_STATUS)
    assert [(n.chat_id, n.payload["status"]) for n in notes] == [
        (CUSTOMER, "completed"),
        (CUSTOMER, "rejected"),
    ]
    asked = panel.fake.count("refill_status")
    await sync_refill_statuses(panel.sm, panel.registry)
    assert panel.fake.count("refill_status") == asked  # finished refills are not asked again
    assert len(await panel.notifications(kind=REFILL_STATUS)) == 2


async def test_a_number_too_big_to_store_is_dropped_and_its_status_applied(
    any_panel: Panel,
) -> None:
    """A garbage number (remains 1e30) neither blocks its own status nor rolls back the
    chunk's other orders: what fits is stored, the rest noted for admins."""
    panel = any_panel
    orders = await panel.add_orders(3)
    for _, remote in orders:
        panel.fake.set_status(remote, "Canceled")
    bad_id, bad_remote = orders[1]
    panel.fake.set_status(bad_remote, "In progress", remains="1e30")
    before = await panel.balance()
    report = await cycle(panel)
    after = await panel.orders()
    good = [order_id for order_id, _ in orders if order_id != bad_id]
    assert all(after[i].status == OrderStatus.CANCELED for i in good)
    assert after[bad_id].status == OrderStatus.IN_PROGRESS and after[bad_id].remains is None
    assert "remains" in (after[bad_id].last_error or "")
    assert report.changed == 3 and report.refused == 0
    refunds = await panel.refunds()
    assert sorted(refunds) == sorted(good)
    assert await panel.balance() == before + sum(after[i].charge for i in good)
    await cycle(panel)  # the bad answer again: still harmless, nothing refunded twice
    assert await panel.refunds() == refunds
