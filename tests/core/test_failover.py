"""Failover in Auto Order, over HTTP to two fake providers: a refusal about the provider moves
the order on at once, one about the customer's input fails it, an ambiguous one never moves."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.lanes import SubmissionLanes
from core.ordering import OrderDraft, place_order
from core.routing import RouteCache
from core.status_sync import sync_order_statuses
from core.statuses import OrderStatus
from core.submission import submit_order
from db.engine import write_tx
from db.models import AdminAlert, Order, Provider, ProviderService, Service, ServiceMapping
from db.types import utcnow
from tests.fakes.provider_server import FakeProvider
from tests.harness.panel import Panel, fast_registry
from tests.harness.settings import ADMINS, CUSTOMER


@pytest.fixture
async def panel(panel: Panel) -> AsyncIterator[Panel]:
    # Not a timeout test: on a busy machine an add can pass the core panel's 0.5 s deadline.
    roomy = fast_registry(10.0)
    yield dataclasses.replace(panel, registry=roomy, provider_timeout=10.0)
    await roomy.close()


@pytest.fixture
async def backup(panel: Panel) -> AsyncIterator[tuple[FakeProvider, int]]:
    """Provider B (its service "1") as the second mapping of the panel's service."""
    async with FakeProvider(api_key="b-key") as fake_b:
        async with panel.sm() as session, write_tx(session):
            provider_b = Provider(name="b", api_url=fake_b.url, api_key="b-key", currency="USD")
            session.add(provider_b)
            await session.flush()
            for provider_id in (panel.provider_id, provider_b.id):
                session.add(
                    ProviderService(
                        provider_id=provider_id, service_id="1", name="Followers",
                        type="default", rate=Decimal("0.90"), min=50, max=10000,
                    )
                )  # fmt: skip
            session.add(
                ServiceMapping(
                    service_id=panel.service_id,
                    provider_id=provider_b.id,
                    provider_service_id="1",
                    priority=2,
                )
            )
        yield fake_b, provider_b.id


async def order_once(panel: Panel, key: str, link: str = "https://instagram.com/p/x") -> Order:
    async with panel.sm() as session:
        placed = await place_order(
            session, CUSTOMER, OrderDraft(panel.service_id, link, 1000), key=key, admin_ids=ADMINS
        )
        order = await submit_order(session, panel.registry, placed.order.id, admin_ids=ADMINS)
        assert order is not None
        return order


async def test_out_of_funds_moves_the_order_to_the_next_provider_at_once(
    panel: Panel, backup: tuple[FakeProvider, int]
) -> None:
    fake_b, b_id = backup
    panel.fake.balance = Decimal("0")
    before = await panel.balance()
    order = await order_once(panel, "funds")
    assert order.status == OrderStatus.PENDING and order.provider_id == b_id
    assert (order.provider_service_id, order.cost) == ("1", None)
    assert panel.fake.count("add") == 1 and fake_b.count("add") == 1
    assert order.provider_order_id in fake_b.orders
    async with panel.sm() as session:
        provider_a = await session.get(Provider, panel.provider_id)
        assert provider_a is not None and provider_a.retry_after is not None  # A waits
        keys = set(await session.scalars(select(AdminAlert.key)))
    assert f"provider:{panel.provider_id}:no_funds" in keys
    # The next order skips A while it backs off: B at once, A not asked again.
    order = await order_once(panel, "funds-2")
    assert order.provider_id == b_id and panel.fake.count("add") == 1
    # Status sync asks B, and the Partial refund follows B's remains.
    fake_b.set_status(order.provider_order_id, "Partial", remains=250)
    await sync_order_statuses(panel.sm, panel.registry)
    order = (await panel.orders())[order.id]
    assert (order.status, order.refunded) == (OrderStatus.PARTIAL, Decimal("0.5"))
    assert order.cost == Decimal("0.9")  # what B billed, from its status answer
    assert await panel.balance() == before - Decimal("4") + Decimal("0.5")


async def test_a_service_disabled_at_the_provider_moves_on_and_is_skipped_after(
    panel: Panel, backup: tuple[FakeProvider, int]
) -> None:
    _, b_id = backup
    panel.fake.disabled.add("1")
    order = await order_once(panel, "disabled")
    assert order.status == OrderStatus.PENDING and order.provider_id == b_id
    order = await order_once(panel, "disabled-2")
    assert order.provider_id == b_id
    assert panel.fake.count("add") == 1  # A is not asked again for a service it disabled
    async with panel.sm() as session:
        row = await session.scalar(
            select(ProviderService).where(ProviderService.provider_id == panel.provider_id)
        )
        assert row is not None and not row.available


async def test_a_refusal_about_the_customers_input_fails_without_moving_on(
    panel: Panel, backup: tuple[FakeProvider, int]
) -> None:
    fake_b, _ = backup
    panel.fake.respond("add", body={"error": "Bad link"})
    order = await order_once(panel, "link")
    assert order.status == OrderStatus.FAILED and order.refunded == order.charge
    assert fake_b.count("add") == 0


async def test_an_ambiguous_answer_never_moves_on(
    panel: Panel, backup: tuple[FakeProvider, int]
) -> None:
    fake_b, _ = backup
    panel.fake.set_fault("add", "http_500", times=1)
    order = await order_once(panel, "ambiguous")
    assert order.status == OrderStatus.REVIEW and order.provider_id == panel.provider_id
    assert fake_b.count("add") == 0


async def test_when_every_provider_is_out_the_order_waits(
    panel: Panel, backup: tuple[FakeProvider, int]
) -> None:
    fake_b, _ = backup
    panel.fake.balance = fake_b.balance = Decimal("0")
    order = await order_once(panel, "both")
    assert order.status == OrderStatus.QUEUED and order.refunded == 0
    assert panel.fake.count("add") == 1 and fake_b.count("add") == 1


async def test_a_lane_sends_a_new_order_to_the_backup_while_the_first_provider_backs_off(
    panel: Panel, backup: tuple[FakeProvider, int]
) -> None:
    """The way the bot sends orders (core.lanes): an order placed while its first provider
    backs off does not wait for that provider, its lane routes it to the ready backup."""
    fake_b, b_id = backup
    async with panel.sm() as session, write_tx(session):
        provider_a = await session.get(Provider, panel.provider_id)
        assert provider_a is not None
        provider_a.retry_after = utcnow() + timedelta(minutes=10)
    async with panel.sm() as session:
        draft = OrderDraft(panel.service_id, "https://instagram.com/p/x", 1000)
        placed = await place_order(session, CUSTOMER, draft, key="lane", admin_ids=ADMINS)
    lanes = SubmissionLanes(panel.sm, panel.registry, ADMINS)
    lanes.wake(placed.order.provider_id)
    await lanes.settled()
    await lanes.stop()
    order = (await panel.orders())[placed.order.id]
    assert order.status == OrderStatus.PENDING and order.provider_id == b_id
    assert panel.fake.count("add") == 0 and fake_b.count("add") == 1


async def lanes_placing(panel: Panel, *keys_services: tuple[str, int]) -> list[int]:
    ids = []
    async with panel.sm() as session:
        for key, service_id in keys_services:
            draft = OrderDraft(service_id, "https://instagram.com/p/x", 1000)
            placed = await place_order(session, CUSTOMER, draft, key=key, admin_ids=ADMINS)
            ids.append(placed.order.id)
    return ids


async def until(condition: Callable[[], Awaitable[bool]], seconds: float = 5.0) -> bool:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if await condition():
            return True
        await asyncio.sleep(0.02)
    return False


async def test_a_backup_is_sent_by_its_own_lane_and_the_first_lane_goes_on(
    panel: Panel, backup: tuple[FakeProvider, int]
) -> None:
    """Failover hands the order to the backup provider's lane (its concurrency and pace):
    while the backup is slow to answer, the first provider's lane, one worker wide, sends
    its next order at once instead of waiting on a provider that is not its own."""
    fake_b, b_id = backup
    async with panel.sm() as session, write_tx(session):
        provider_a = await session.get(Provider, panel.provider_id)
        assert provider_a is not None
        provider_a.concurrency = 1
        first = await session.get(Service, panel.service_id)
        assert first is not None
        only_a = Service(
            category_id=first.category_id, name="Views", type="default", price=Decimal("1"),
            min=100, max=100000, provider_id=panel.provider_id, provider_service_id="4",
        )  # fmt: skip
        session.add(only_a)
    panel.fake.disabled.add("1")  # A refuses the first service: about the provider
    fake_b.hold("add")
    # The backup's add is held far longer than the test waits for the other order.
    lanes = SubmissionLanes(panel.sm, fast_registry(60.0), ADMINS)
    try:
        [moved] = await lanes_placing(panel, ("moved", panel.service_id))
        lanes.wake(panel.provider_id)
        assert await until(lambda: _true(fake_b.held("add") == 1), seconds=20)
        [own] = await lanes_placing(panel, ("own", only_a.id))
        lanes.wake(panel.provider_id)
        sent = await until(lambda: _status_is(panel, own, OrderStatus.PENDING), seconds=10)
        assert sent, "the first provider's lane waited on the backup"
        assert (await panel.orders())[moved].status == OrderStatus.SUBMITTING
        fake_b.release("add")
        assert await until(lambda: _status_is(panel, moved, OrderStatus.PENDING), seconds=20)
    finally:
        fake_b.release("add")
        await lanes.stop()
    order = (await panel.orders())[moved]
    assert order.provider_id == b_id and order.failover_tried is None
    assert panel.fake.count("add") == 2 and fake_b.count("add") == 1


async def test_handed_over_orders_never_go_back_to_a_provider_that_refused_them(
    panel: Panel, backup: tuple[FakeProvider, int]
) -> None:
    """A refuses for a reason about itself and stays ready; B refuses too: the order fails
    and is refunded, each provider asked once (the mappings tried travel with the order
    from lane to lane, so it does not bounce between them)."""
    fake_b, _ = backup
    refusal = {"error": "Quantity less than minimal 5000"}
    panel.fake.respond("add", body=refusal, times=None)
    fake_b.respond("add", body=refusal, times=None)
    lanes = SubmissionLanes(panel.sm, panel.registry, ADMINS)
    [order_id] = await lanes_placing(panel, ("bounce", panel.service_id))
    lanes.wake(panel.provider_id)
    assert await until(lambda: _status_is(panel, order_id, OrderStatus.FAILED))
    await lanes.settled()
    await lanes.stop()
    order = (await panel.orders())[order_id]
    assert order.refunded == order.charge and order.failover_tried is None
    assert panel.fake.count("add") == 1 and fake_b.count("add") == 1


async def _true(value: bool) -> bool:
    return value


async def _status_is(panel: Panel, order_id: int, status: str) -> bool:
    return (await panel.orders())[order_id].status == status


async def test_the_lanes_see_a_backup_mapped_on_another_replica_within_the_bound(
    panel: Panel,
) -> None:
    """The lanes route from a snapshot of the mappings (core.routing.RouteCache): a backup
    mapped on another replica, while the first provider backs off, takes the next order
    once the snapshot's check interval has passed, never later."""
    lanes = SubmissionLanes(panel.sm, panel.registry, ADMINS)
    lanes.routes = RouteCache(check_every=0.2)
    try:
        [first] = await lanes_placing(panel, ("before", panel.service_id))
        lanes.wake(panel.provider_id)
        assert await until(lambda: _status_is(panel, first, OrderStatus.PENDING))
        assert lanes.routes.loads == 1
        other = panel.reopen()  # another replica's process
        async with FakeProvider(api_key="b-key") as fake_b:
            async with other.sm() as session, write_tx(session):
                provider_b = Provider(name="b", api_url=fake_b.url, api_key="b-key")
                session.add(provider_b)
                await session.flush()
                session.add(
                    ServiceMapping(
                        service_id=panel.service_id, provider_id=provider_b.id,
                        provider_service_id="1", priority=2,
                    )
                )  # fmt: skip
                provider_a = await session.get(Provider, panel.provider_id)
                assert provider_a is not None
                provider_a.retry_after = utcnow() + timedelta(minutes=10)
            await asyncio.sleep(0.3)
            [second] = await lanes_placing(panel, ("after", panel.service_id))
            lanes.wake(panel.provider_id)
            assert await until(lambda: _status_is(panel, second, OrderStatus.PENDING))
            assert (await panel.orders())[second].provider_id == provider_b.id
            assert fake_b.count("add") == 1 and panel.fake.count("add") == 1
    finally:
        await lanes.stop()
    assert lanes.routes.loads == 2
