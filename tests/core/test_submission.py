"""Auto Order: every add outcome through real HTTP to the fake provider (SPEC §5)."""

import asyncio
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from core.claims import STUCK_AFTER, due_queued_orders, recover_interrupted
from core.ordering import OrderDraft, place_order
from core.statuses import OrderStatus
from core.submission import submit_order
from db.engine import write_tx
from db.models import AdminAlert, Notification, Order, Provider, Service
from db.types import utcnow
from providers import AddOutcome, ProviderRegistry
from tests.fakes.provider_server import FakeProvider
from tests.harness.panel import Panel
from tests.harness.settings import ADMINS, CUSTOMER


async def place(panel: Panel, key: str = "k", quantity: int = 1000) -> int:
    async with panel.sm() as session:
        placed = await place_order(
            session,
            CUSTOMER,
            OrderDraft(panel.service_id, "https://instagram.com/p/x", quantity),
            key=key,
            admin_ids=ADMINS,
        )
        return placed.order.id


async def submit(panel: Panel, order_id: int) -> Order:
    async with panel.sm() as session:
        order = await submit_order(session, panel.registry, order_id, admin_ids=ADMINS)
        assert order is not None
        return order


async def test_accepted_order_is_pending_with_the_provider_id(panel: Panel) -> None:
    order = await submit(panel, await place(panel))
    assert order.status == OrderStatus.PENDING
    assert order.provider_order_id in panel.fake.orders
    [add] = panel.fake.requests_for("add")
    assert add.form == {
        "key": "core-key",
        "action": "add",
        "service": "1",
        "link": "https://instagram.com/p/x",
        "quantity": "1000",
    }
    assert await panel.balance() == Decimal("8.00")


async def test_rejection_fails_and_refunds_in_full(panel: Panel) -> None:
    async with panel.sm() as session, write_tx(session):
        service = await session.get(Service, panel.service_id)
        service.provider_service_id = "999"  # the provider does not know it
    order = await submit(panel, await place(panel))
    assert order.status == OrderStatus.FAILED
    assert order.error_code == "invalid_service"
    assert order.refunded == Decimal("2.00")
    assert await panel.balance() == Decimal("10.00")


async def test_no_funds_stays_queued_with_backoff_and_alerts_admins(panel: Panel) -> None:
    panel.fake.set_fault("add", "not_enough_funds")
    order = await submit(panel, await place(panel))
    assert order.status == OrderStatus.QUEUED and order.next_attempt_at is not None
    async with panel.sm() as session:
        provider = await session.get(Provider, panel.provider_id)
        assert provider.retry_after is not None
        assert await session.get(AdminAlert, f"provider:{panel.provider_id}:no_funds")
        assert await due_queued_orders(session) == []  # waits for the backoff
    assert await panel.balance() == Decimal("8.00")  # still charged: it will be sent


async def test_connection_refused_is_not_sent_and_stays_queued(panel: Panel) -> None:
    async with panel.sm() as session, write_tx(session):
        provider = await session.get(Provider, panel.provider_id)
        provider.api_url = FakeProvider.closed_url()
    order = await submit(panel, await place(panel))
    assert order.status == OrderStatus.QUEUED
    assert order.error_code == "not_sent"


async def test_timeout_after_send_goes_to_review_and_is_never_resent(panel: Panel) -> None:
    panel.fake.set_fault("add", "timeout")
    order_id = await place(panel)
    order = await submit(panel, order_id)
    assert order.status == OrderStatus.REVIEW and order.error_code == "ambiguous"
    again = await submit(panel, order_id)
    assert again.status == OrderStatus.REVIEW
    assert panel.fake.count("add") == 1
    async with panel.sm() as session:
        alerts = (
            await session.scalars(select(Notification).where(Notification.kind == "admin_alert"))
        ).all()
        assert [a.chat_id for a in alerts] == [9001]


async def test_concurrent_submitters_send_one_add(panel: Panel) -> None:
    order_id = await place(panel)
    await asyncio.gather(*(submit(panel, order_id) for _ in range(5)))
    assert panel.fake.count("add") == 1


async def test_recovery_moves_only_interrupted_orders_to_review(panel: Panel) -> None:
    interrupted, queued = await place(panel, "a"), await place(panel, "b")
    async with panel.sm() as session, write_tx(session):
        (await session.get(Order, interrupted)).status = OrderStatus.SUBMITTING
    async with panel.sm() as session:
        assert await recover_interrupted(session, ADMINS) == [interrupted]
        assert (await session.get(Order, interrupted)).status == OrderStatus.REVIEW
        assert (await session.get(Order, queued)).status == OrderStatus.QUEUED
    assert panel.fake.count("add") == 0


async def test_with_replicas_only_stuck_claims_are_recovered(panel: Panel) -> None:
    fresh, stuck = await place(panel, "fresh"), await place(panel, "stuck")
    async with panel.sm() as session, write_tx(session):
        (await session.get(Order, fresh)).status = OrderStatus.SUBMITTING
        old = await session.get(Order, stuck)
        old.status = OrderStatus.SUBMITTING
        old.updated_at = utcnow() - STUCK_AFTER - timedelta(seconds=1)
    async with panel.sm() as session:
        assert await recover_interrupted(session, ADMINS, older_than=STUCK_AFTER) == [stuck]
        assert (await session.get(Order, fresh)).status == OrderStatus.SUBMITTING


async def test_a_late_add_answer_does_not_override_review(panel: Panel) -> None:
    """An add slower than STUCK_AFTER: recovery moved it to review while it was in flight."""
    order_id = await place(panel)
    panel.fake.hold("add")  # the add arrives and waits: an answer late, within its deadline
    panel.registry = ProviderRegistry(read_timeout=30, connect_timeout=5, read_retries=0)

    async def recover_meanwhile() -> None:
        for _ in range(600):  # until the add is in flight, however loaded the machine
            if panel.fake.held("add"):
                break
            await asyncio.sleep(0.05)
        async with panel.sm() as session:
            assert await recover_interrupted(session, ADMINS) == [order_id]
        panel.fake.release("add")

    try:
        order, _ = await asyncio.gather(submit(panel, order_id), recover_meanwhile())
    finally:
        await panel.registry.close()
    assert order.status == OrderStatus.REVIEW
    assert order.provider_order_id in panel.fake.orders
    assert "late add answer: accepted" in (order.last_error or "")


class _GatedAdd:
    """A registry whose add waits for the test, then accepts."""

    def __init__(self) -> None:
        self.sent = asyncio.Event()
        self.answer = asyncio.Event()

    def get(self, provider: object) -> "_GatedAdd":
        return self

    async def add(self, request: object) -> AddOutcome:
        self.sent.set()
        await self.answer.wait()
        return AddOutcome(kind="accepted", provider_order_id="555")


async def test_a_late_add_answer_waits_for_an_admin_moving_the_order_to_review(
    panel: Panel,
) -> None:
    """An admin (row locked, not yet committed) moves a submitting order to review while the
    add answer arrives: the answer must not override the admin's review afterwards."""
    order_id = await place(panel)
    gated = _GatedAdd()

    async def sending() -> Order | None:
        async with panel.sm() as session:
            return await submit_order(session, gated, order_id, admin_ids=ADMINS)  # type: ignore[arg-type]

    task = asyncio.create_task(sending())
    await gated.sent.wait()
    async with panel.sm() as admin, write_tx(admin):
        order = await admin.scalar(
            select(Order).where(Order.id == order_id).with_for_update(of=Order)
        )
        assert order is not None and order.status == OrderStatus.SUBMITTING
        order.status = OrderStatus.REVIEW
        await admin.flush()
        gated.answer.set()
        await asyncio.sleep(0.5)  # the submitter reads while the admin's change is uncommitted
    await task
    async with panel.sm() as session:
        order = await session.get(Order, order_id)
        assert order is not None
        assert order.status == OrderStatus.REVIEW and order.provider_order_id == "555"
