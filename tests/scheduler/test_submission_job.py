"""The submission job over the fake provider (SPEC §5): the lanes it wakes send queued orders
oldest first, a provider out of funds is backed off (one request, admins told), never sent
twice."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from core.alerts import AlertKind
from core.lanes import SubmissionLanes
from core.ordering import OrderDraft, place_order
from core.statuses import OrderStatus
from db.engine import write_tx
from db.models import Provider
from tests.harness.panel import Panel
from tests.harness.settings import ADMINS, CUSTOMER


async def place(panel: Panel, count: int, *, concurrency: int | None = None) -> list[int]:
    """`count` queued orders; `concurrency` sets the provider's (1: its lane sends one at a
    time, oldest first)."""
    async with panel.sm() as session, write_tx(session):
        provider = await session.get(Provider, panel.provider_id)
        assert provider is not None
        provider.concurrency = concurrency
    ids = []
    async with panel.sm() as session:
        for n in range(count):
            draft = OrderDraft(panel.service_id, f"https://instagram.com/p{n}", 100)
            placed = await place_order(session, CUSTOMER, draft, key=f"k{n}", admin_ids=ADMINS)
            ids.append(placed.order.id)
    return ids


async def submit_job(panel: Panel) -> None:
    """One run of the periodic submit job (scheduler.jobs): it wakes the lanes of providers
    with due orders; here, until they have sent what they could."""
    lanes = SubmissionLanes(panel.sm, panel.registry, ADMINS)
    await lanes.wake_due()
    await lanes.settled()
    await lanes.stop()


async def test_queued_orders_are_submitted_oldest_first_and_the_customer_told(
    panel: Panel,
) -> None:
    ids = await place(panel, 4, concurrency=1)
    await submit_job(panel)
    assert panel.fake.count("add") == 4
    links = [r.form["link"] for r in panel.fake.requests_for("add")]
    assert links == [f"https://instagram.com/p{n}" for n in range(4)]
    orders = await panel.orders()
    assert all(orders[i].status == OrderStatus.PENDING and orders[i].provider_order_id
               for i in ids)  # fmt: skip
    notes = await panel.notifications(kind="order_status")
    assert [(n.chat_id, n.payload["order_id"], n.payload["new"]) for n in notes] == [
        (CUSTOMER, i, "pending") for i in ids
    ]
    await submit_job(panel)
    assert panel.fake.count("add") == 4  # nothing sent again


async def test_a_provider_out_of_funds_is_asked_once_and_admins_told(panel: Panel) -> None:
    ids = await place(panel, 3, concurrency=1)
    panel.fake.balance = Decimal("0")
    await submit_job(panel)
    await submit_job(panel)
    assert panel.fake.count("add") == 1  # the rest wait for the provider's backoff
    orders = await panel.orders()
    assert {orders[i].status for i in ids} == {OrderStatus.QUEUED}
    assert orders[ids[0]].next_attempt_at is not None
    alerts = [n.payload for n in await panel.notifications(kind="admin_alert")]
    assert [a["alert"] for a in alerts] == [AlertKind.PROVIDER_NO_FUNDS]
    assert await panel.balance() == Decimal("100000") - 3 * Decimal("0.2")  # still charged


async def test_replicas_submitting_at_once_send_each_order_once(any_panel: Panel) -> None:
    panel = any_panel
    ids = await place(panel, 6)
    # Not a timeout test: three replicas on a busy machine may need more than the harness's
    # 1 s deadline for an add (a timed-out add goes to review, as it should).
    panel.provider_timeout = 10.0
    replicas = [panel.reopen(), panel.reopen(), panel.reopen()]
    await asyncio.gather(*(submit_job(r) for r in replicas))
    assert panel.fake.count("add") == 6
    orders = await panel.orders()
    assert {orders[i].status for i in ids} == {OrderStatus.PENDING}
    assert len(await panel.notifications(kind="order_status")) == 6
