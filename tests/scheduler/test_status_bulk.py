"""Status sync writes a chunk's changes in bulk (core.lifecycle_bulk): the database ends
exactly as the per-order lifecycle (core.lifecycle.apply_provider_status, one order at a
time) leaves it — orders, history, the customers' messages, refunds, balances, admin
alerts — for every kind of answer a chunk can hold; and exactly once when the same answer
comes again or two replicas apply it at once. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, select, update

import core.status_sync
from core.admin_actions import refund_order
from core.customer_requests import request_refill
from core.refill_sync import REFILL_STATUS, sync_refill_statuses
from core.status_sync import SyncReport, apply_status_chunk, sync_order_statuses
from core.statuses import OrderStatus
from db.engine import write_tx
from db.models import LedgerEntry, Notification, Order, OrderStatusChange, Refill
from providers import MultiStatusResult, OrderLookupError, RemoteOrderStatus
from tests.harness.ledger import give_money
from tests.harness.panel import Panel
from tests.harness.settings import ADMINS, CUSTOMER

OTHER = CUSTOMER + 1  # a second customer with the same orders, synced the other way
ADMIN = next(iter(ADMINS))


def seen(remote: str, status: str, word: str, **fields: Any) -> RemoteOrderStatus:
    return RemoteOrderStatus(order_id=remote, status=status, raw_status=word, **fields)


# (status before, admin refund before, quantity, the provider's answer for the order)
CASES: list[tuple[str, str | None, int, Any]] = [
    ("pending", None, 1000, lambda r: seen(r, "partial", "Partial", remains=250, start_count=10,
                                            charge=Decimal("0.9"))),
    ("pending", None, 1000, lambda r: seen(r, "canceled", "Canceled")),
    ("pending", None, 1000, lambda r: seen(r, "completed", "Completed", remains=0)),
    ("pending", None, 1000, lambda r: seen(r, "in_progress", "In progress", start_count=5)),
    ("pending", None, 1000, lambda r: seen(r, "pending", "Pending", start_count=7)),  # same status
    ("in_progress", None, 1000, lambda r: seen(r, "pending", "Pending")),  # out of order
    ("processing", None, 1000, lambda r: OrderLookupError(order_id=r, message="Incorrect order ID",
                                                           code="bad_id")),  # refused id
    ("pending", None, 1000, lambda r: seen(r, "unknown", "Weird words")),  # garbage status
    ("pending", None, 1000, lambda r: seen(r, "partial", "Partial")),  # no remains: review
    ("pending", "1.50", 1000, lambda r: seen(r, "partial", "Partial", remains=250)),  # beyond
    ("pending", "0.50", 1000, lambda r: seen(r, "canceled", "Canceled")),  # the rest only
    ("in_progress", None, 1000, lambda r: seen(r, "in_progress", "In progress",
                                                unstored=("remains",), raw={"remains": "1e30"})),
    ("pending", None, 500, lambda r: seen(r, "partial", "Partial", kind="dripfeed", runs=2)),
    ("pending", None, 1000, lambda r: seen(r, "failed", "Fail")),
    ("pending", None, 1000, lambda r: None),  # absent from the answer
    ("pending", "0.30", 1000, lambda r: seen(r, "completed", "Completed", remains=0)),  # kept
]  # fmt: skip


async def mixed_orders(panel: Panel, user_id: int) -> list[tuple[int, str]]:
    """One order per case for `user_id`, in the state the case starts from."""
    orders = []
    for before, refunded, quantity, _ in CASES:
        [(order_id, remote)] = await panel.add_orders(1, user_id=user_id, quantity=quantity)
        values: dict[str, Any] = {"status": before}
        if quantity == 500:
            values["extra"] = {"runs": 5, "interval": 30}  # 5 runs of 100
        async with panel.sm() as session, write_tx(session):
            await session.execute(update(Order).where(Order.id == order_id).values(**values))
        if refunded is not None:
            async with panel.sm() as session:
                await refund_order(session, order_id, Decimal(refunded), admin_id=ADMIN)
        orders.append((order_id, remote))
    return orders


def answer_for(orders: list[tuple[int, str]]) -> MultiStatusResult:
    result = MultiStatusResult()
    for (_, remote), (*_, answer) in zip(orders, CASES, strict=True):
        entry = answer(remote)
        if entry is None:
            result.missing.append(remote)
        else:
            result.results[remote] = entry
    return result


async def sync_chunk(panel: Panel, orders: list[tuple[int, str]]) -> SyncReport:
    return await apply_status_chunk(
        panel.sm, panel.provider_id, orders, answer_for(orders), admin_ids=ADMINS
    )


async def state(panel: Panel, user_id: int) -> dict[str, Any]:
    """Everything the sync wrote for the customer's orders, order ids replaced by their
    place in CASES (so two customers' states compare)."""
    async with panel.sm() as session:
        orders = list(
            await session.scalars(select(Order).where(Order.user_id == user_id).order_by(Order.id))
        )
        place = {o.id: i for i, o in enumerate(orders)}

        def named(text: str | None) -> str | None:
            if text is None:
                return None
            return re.sub(r"(refund|charge|order):(\d+)", lambda m: f"{m[1]}:#{place[int(m[2])]}",
                          text)  # fmt: skip

        history = await session.execute(
            select(OrderStatusChange).where(OrderStatusChange.order_id.in_(place))
            .order_by(OrderStatusChange.order_id, OrderStatusChange.id)
        )  # fmt: skip
        changes = history.scalars().all()
        new_of = {h.id: h.new_status for h in changes}

        def keyed(message: Notification) -> str:  # order:<place>:<the history row's status>
            key = named(message.dedupe_key) or ""
            return re.sub(r":(\d+)$", lambda k: f":{new_of[int(k[1])]}", key)

        messages = await session.scalars(
            select(Notification).where(Notification.chat_id == user_id).order_by(Notification.id)
        )
        alerts = await session.scalars(
            select(Notification).where(Notification.kind == "admin_alert").order_by(Notification.id)
        )
        ledger = await session.scalars(
            select(LedgerEntry).where(LedgerEntry.user_id == user_id).order_by(LedgerEntry.id)
        )
        return {
            "orders": [
                (o.status, o.refunded, o.remains, o.start_count, o.cost, o.provider_status,
                 o.error_code, o.last_error, o.runs_done, o.posts_done)
                for o in orders
            ],
            "history": [(place[h.order_id], h.old_status, h.new_status, h.note) for h in changes],
            "messages": [
                (m.kind, {**m.payload, "order_id": place[m.payload["order_id"]]}, keyed(m))
                for m in messages
            ],
            "alerts": sorted(
                (a.chat_id, a.payload["alert"], place.get(a.payload.get("order_id", -1)))
                for a in alerts
                if a.payload.get("order_id") in place
            ),
            "ledger": [
                (e.kind, e.amount, e.balance_after, named(e.idempotency_key))
                for e in ledger
                if e.order_id is not None
            ],
            "balance": await panel.balance(user_id),
        }  # fmt: skip


def one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Status sync applying through the per-order lifecycle (its fallback path)."""
    monkeypatch.setattr(core.status_sync, "_apply_in_bulk", core.status_sync._apply_one_by_one)


def bulk_only(monkeypatch: pytest.MonkeyPatch) -> None:
    async def never(*args: object) -> None:
        raise AssertionError("the bulk write fell back to order by order")

    monkeypatch.setattr(core.status_sync, "_apply_one_by_one", never)


async def test_a_mixed_chunk_in_bulk_ends_as_the_per_order_lifecycle(
    any_panel: Panel, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = any_panel
    await give_money(panel.sm, OTHER, "100000", first_name="Bob")
    per_order, in_bulk = await mixed_orders(panel, CUSTOMER), await mixed_orders(panel, OTHER)
    expected_before = await state(panel, CUSTOMER)

    with monkeypatch.context() as patched:
        one_by_one(patched)
        reference = await sync_chunk(panel, per_order)
    bulk_only(monkeypatch)
    report = await sync_chunk(panel, in_bulk)

    expected = await state(panel, CUSTOMER)
    got = await state(panel, OTHER)
    assert expected != expected_before  # the cases did change something
    assert got == expected
    assert (report.changed, report.refused, report.missing) == (
        reference.changed, reference.refused, reference.missing
    )  # fmt: skip
    assert (report.changed, report.refused, report.missing) == (11, 1, 1)
    statuses = [row[0] for row in got["orders"]]
    assert statuses == [
        "partial", "canceled", "completed", "in_progress", "pending", "pending", "processing",
        "pending", "review", "partial", "canceled", "in_progress", "partial", "failed",
        "pending", "completed",
    ]  # fmt: skip
    refunds = [(row[3], row[1]) for row in got["ledger"] if row[0] == "refund"]
    assert refunds == [  # the admins' refunds first (set up), then the sync's
        ("refund:#9:admin:0", Decimal("1.50")),
        ("refund:#10:admin:0", Decimal("0.50")),
        ("refund:#15:admin:0", Decimal("0.30")),
        ("refund:#0:partial", Decimal("0.5")),
        ("refund:#1:canceled", Decimal("2.00")),
        ("refund:#10:canceled:0.5", Decimal("1.50")),
        ("refund:#12:partial", Decimal("0.6")),
        ("refund:#13:failed", Decimal("2.00")),
    ]
    assert [a[1:] for a in got["alerts"]] == [
        ("refund_above_status", 9),
        ("refund_above_status", 15),
    ]


@contextmanager
def statements(panel: Panel) -> Iterator[list[str]]:
    """The SQL statements the panel's engine sends meanwhile."""
    sent: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        sent.append(" ".join(statement.split()).upper())

    event.listen(panel.engine.sync_engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(panel.engine.sync_engine, "before_cursor_execute", seen)


def writes(sent: list[str]) -> list[str]:
    return [s for s in sent if s.startswith(("UPDATE", "INSERT", "DELETE"))]


async def test_the_same_answer_again_changes_nothing(
    any_panel: Panel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every kind of answer, applied a second time: the comparison finds nothing to do,
    so not a single statement writes."""
    panel = any_panel
    bulk_only(monkeypatch)
    orders = await mixed_orders(panel, CUSTOMER)
    await sync_chunk(panel, orders)
    once = await state(panel, CUSTOMER)
    with statements(panel) as sent:
        again = await sync_chunk(panel, orders)
    assert writes(sent) == []
    assert await state(panel, CUSTOMER) == once
    assert again.changed == 0


async def test_a_cycle_where_nothing_changed_reads_the_orders_once_and_writes_nothing(
    any_panel: Panel,
) -> None:
    """250 active orders, three status requests: their columns are compared from one read
    (a window of up to core.status_sync.WINDOW orders), not one read per request."""
    panel = any_panel
    orders = await panel.add_orders(250)
    for _, remote in orders:
        panel.fake.set_status(remote, "In progress", start_count=10, remains=900)
    first = await sync_order_statuses(panel.sm, panel.registry)
    assert first.changed == 250
    with statements(panel) as sent:
        report = await sync_order_statuses(panel.sm, panel.registry)
    assert (report.requests, report.changed) == (3, 0)
    assert writes(sent) == []
    order_reads = [s for s in sent if s.startswith("SELECT") and " FROM ORDERS" in s]
    assert len(order_reads) == 2  # the active orders listed, then their columns compared


async def test_a_request_whose_orders_span_two_read_windows_is_compared_whole(
    panel: Panel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows of 150 orders, requests of 100: the second request's orders lie in two
    windows; every order is still compared, moved once, and left alone the next time."""
    monkeypatch.setattr(core.status_sync, "WINDOW", 150)
    orders = await panel.add_orders(250)
    for _, remote in orders:
        panel.fake.set_status(remote, "In progress", start_count=10)
    with statements(panel) as sent:
        report = await sync_order_statuses(panel.sm, panel.registry)
    assert (report.requests, report.changed) == (3, 250)
    compared = [s for s in sent if s.startswith("SELECT") and "BETWEEN" in s]
    assert len(compared) == 2  # two windows, each read once
    after = await panel.orders()
    assert {(o.status, o.start_count) for o in after.values()} == {(OrderStatus.IN_PROGRESS, 10)}
    assert await panel.history_count() == 500  # the seeded row and one move each
    with statements(panel) as sent:
        again = await sync_order_statuses(panel.sm, panel.registry)
    assert again.changed == 0 and writes(sent) == []


async def test_what_the_rule_does_not_store_is_not_written_again(any_panel: Panel) -> None:
    """A count a drip-feed parent reports but the rule keeps only when it ends (remains),
    and a charge no column can hold: the second cycle with the same answer writes nothing
    (the comparison asks the rule that applies the answer, not a copy of it)."""
    panel = any_panel
    (order, order_remote), (parent, parent_remote) = await panel.add_orders(2)
    answer = {
        order_remote: {"status": "In progress", "charge": "1e30", "remains": "100"},
        parent_remote: {"status": "In progress", "runs": "2", "orders": [], "remains": "300"},
    }
    panel.fake.respond("status", body=answer, times=None)
    await sync_order_statuses(panel.sm, panel.registry)
    after = await panel.orders()
    assert after[order].status == after[parent].status == OrderStatus.IN_PROGRESS
    assert "charge" in (after[order].last_error or "") and after[order].cost is None
    assert after[parent].runs_done == 2 and after[parent].remains is None
    with statements(panel) as sent:
        report = await sync_order_statuses(panel.sm, panel.registry)
    assert report.changed == 0 and writes(sent) == []


async def test_two_replicas_applying_one_chunk_at_once_write_it_once(
    any_panel: Panel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three processes apply the same answer to the same chunk at the same moment (on
    PostgreSQL each locks the rows it takes, skipping those another holds)."""
    panel = any_panel
    await give_money(panel.sm, OTHER, "100000", first_name="Bob")
    reference, contested = await mixed_orders(panel, CUSTOMER), await mixed_orders(panel, OTHER)
    await sync_chunk(panel, reference)
    bulk_only(monkeypatch)
    replicas = [panel.reopen() for _ in range(3)]
    reports = await asyncio.gather(*(sync_chunk(r, contested) for r in replicas))
    assert await state(panel, OTHER) == await state(panel, CUSTOMER)
    assert sum(r.changed for r in reports) == 11


async def test_refill_sync_writes_only_what_changed_and_tells_once(any_panel: Panel) -> None:
    """Refills the same way: an unchanged answer costs reads only; what moved is written
    once, and a finished refill told once, with three replicas syncing at the same moment."""
    panel = any_panel
    orders = await panel.add_orders(3, status=OrderStatus.COMPLETED, remote_status="Completed")
    async with panel.sm() as session:
        for order_id, _ in orders:
            assert (await request_refill(session, panel.registry, CUSTOMER, order_id)).ok
    async with panel.sm() as session:
        refills = list(await session.scalars(select(Refill).order_by(Refill.id)))
    moving, done, waiting = refills
    await sync_refill_statuses(panel.sm, panel.registry)  # what the provider says at first

    writes: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith(("UPDATE", "INSERT")):
            writes.append(statement)

    event.listen(panel.engine.sync_engine, "before_cursor_execute", count)
    await sync_refill_statuses(panel.sm, panel.registry)  # nothing new
    event.remove(panel.engine.sync_engine, "before_cursor_execute", count)
    assert writes == []

    panel.fake.set_refill_status(moving.provider_refill_id or "", "In progress")
    panel.fake.set_refill_status(done.provider_refill_id or "", "Completed")
    replicas = [panel.reopen() for _ in range(3)]
    reports = await asyncio.gather(*(sync_refill_statuses(r.sm, r.registry) for r in replicas))
    assert sum(r.changed for r in reports) == 2
    async with panel.sm() as session:
        after = {r.id: r.status for r in await session.scalars(select(Refill))}
    assert after == {moving.id: "in_progress", done.id: "completed", waiting.id: waiting.status}
    notes = await panel.notifications(kind=REFILL_STATUS)
    assert [(n.payload["order_id"], n.payload["status"]) for n in notes] == [
        (orders[1][0], "completed")
    ]


async def test_a_chunk_the_database_refuses_in_bulk_is_applied_order_by_order(
    any_panel: Panel,
) -> None:
    """A drip-feed parent reporting more runs than its column holds (PostgreSQL's INTEGER;
    SQLite stores it): the bulk write of the chunk is refused, the chunk is applied again
    order by order, so only that order is noted and the others move with their refunds."""
    panel = any_panel
    orders = await panel.add_orders(3)
    (first, first_remote), (bad, bad_remote), (last, last_remote) = orders
    result = MultiStatusResult()
    result.results[first_remote] = seen(first_remote, "canceled", "Canceled")
    result.results[bad_remote] = seen(bad_remote, "in_progress", "Active", kind="dripfeed",
                                      runs=2**40)  # fmt: skip
    result.results[last_remote] = seen(last_remote, "partial", "Partial", remains=500)
    report = await apply_status_chunk(panel.sm, panel.provider_id, orders, result)
    after = await panel.orders()
    assert (after[first].status, after[last].status) == ("canceled", "partial")
    assert await panel.refunds() == {first: [Decimal("2.00")], last: [Decimal("1.00")]}
    if panel.url.startswith("postgresql"):
        assert after[bad].status == "pending" and after[bad].runs_done is None
        assert "status: not applied" in (after[bad].last_error or "")
        assert (report.changed, report.refused) == (2, 1)
    else:
        assert after[bad].status == "in_progress" and after[bad].runs_done == 2**40
        assert (report.changed, report.refused) == (3, 0)
    assert len(await panel.notifications(kind="order_status")) == report.changed
