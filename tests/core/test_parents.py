"""Drip-feed and subscription orders end to end in core: charge, add fields over HTTP to the
fake provider, parent statuses synced, refunds for what was not delivered."""

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import update

from core.customer_requests import request_cancel
from core.order_fields import DripFeed, Subscription
from core.ordering import OrderDraft, OrderError, place_order
from core.status_sync import sync_order_statuses
from core.statuses import OrderStatus
from core.submission import submit_order
from db.engine import write_tx
from db.models import Order, Service
from tests.harness import seed
from tests.harness.panel import Panel
from tests.harness.settings import ADMINS, CUSTOMER

LINK = "https://instagram.com/p/x"


async def place(panel: Panel, draft: OrderDraft, key: str) -> Order:
    async with panel.sm() as session:
        placed = await place_order(session, CUSTOMER, draft, key=key, admin_ids=ADMINS)
        return placed.order


async def submit(panel: Panel, order_id: int) -> Order:
    async with panel.sm() as session:
        order = await submit_order(session, panel.registry, order_id, admin_ids=ADMINS)
        assert order is not None
        return order


async def synced(panel: Panel, order_id: int) -> Order:
    """The order after one status sync with the fake provider."""
    await sync_order_statuses(panel.sm, panel.registry)
    return (await panel.orders())[order_id]


async def served_then_ended(
    panel: Panel,
    order: Order,
    serve: Callable[..., None],
    done: str,
    counts: tuple[int, int],
    end: str,
) -> Order:
    """The provider serves counts[0] parts of a parent (in progress; the order's `done`
    column counts them), then counts[1] in all and ends it with `end`: the order after."""
    first, total = counts
    serve(order.provider_order_id, first)
    order = await synced(panel, order.id)
    assert (order.status, getattr(order, done)) == (OrderStatus.IN_PROGRESS, first)
    serve(order.provider_order_id, total, end)
    return await synced(panel, order.id)


async def test_dripfeed_charges_every_run_and_refunds_the_runs_not_done(panel: Panel) -> None:
    async with panel.sm() as session, write_tx(session):
        await session.execute(
            update(Service).where(Service.id == panel.service_id).values(dripfeed=True)
        )
    before = await panel.balance()
    draft = OrderDraft(panel.service_id, LINK, 100, DripFeed(runs=5, interval=30).as_extra())
    order = await place(panel, draft, "drip")
    assert (order.quantity, order.charge) == (500, Decimal("1.00"))  # 2.00 per 1000 × 500
    order = await submit(panel, order.id)
    assert order.status == OrderStatus.PENDING
    sent = panel.fake.requests_for("add")[-1].form
    assert (sent["quantity"], sent["runs"], sent["interval"]) == ("100", "5", "30")

    order = await served_then_ended(
        panel, order, panel.fake.run_dripfeed, "runs_done", (2, 3), "Canceled"
    )
    # 2 of 5 runs not done: 200 of 500 units, 0.40 back.
    assert (order.status, order.runs_done, order.refunded) == (
        OrderStatus.CANCELED, 3, Decimal("0.40")
    )  # fmt: skip
    await sync_order_statuses(panel.sm, panel.registry)  # seen twice: refunded once
    assert await panel.balance() == before - Decimal("0.60")


async def test_dripfeed_is_refused_where_the_service_has_none(panel: Panel) -> None:
    draft = OrderDraft(panel.service_id, LINK, 100, DripFeed(runs=5, interval=30).as_extra())
    with pytest.raises(OrderError) as refused:
        await place(panel, draft, "nodrip")
    assert refused.value.code == "dripfeed_unavailable"


async def test_subscription_charges_its_posts_and_refunds_the_posts_not_served(
    panel: Panel,
) -> None:
    async with panel.sm() as session, write_tx(session):
        sub_service = await seed.service(
            session, name="Instagram Auto Likes", type="subscriptions", price=Decimal("1.00"),
            min=50, max=5000, mode="auto", provider_id=panel.provider_id,
            provider_service_id="5", cancel=True,
        )  # fmt: skip
        sub_id = sub_service.id
    before = await panel.balance()
    expiry = date.today() + timedelta(days=20)
    sub = Subscription("nasa", min=100, max=200, posts=10, delay=30, expiry=expiry)
    order = await place(panel, OrderDraft(sub_id, "nasa", 10, sub.as_extra()), "sub")
    assert order.charge == Decimal("2.00")  # 10 posts × 200 likes at 1.00 per 1000
    order = await submit(panel, order.id)
    sent = panel.fake.requests_for("add")[-1].form
    assert "link" not in sent and "quantity" not in sent
    assert (sent["username"], sent["min"], sent["max"], sent["posts"], sent["delay"]) == (
        "nasa", "100", "200", "10", "30"
    )  # fmt: skip
    assert sent["expiry"] == expiry.strftime("%d/%m/%Y")

    order = await served_then_ended(
        panel, order, panel.fake.serve_posts, "posts_done", (4, 6), "Expired"
    )
    # Ended after 6 of 10 posts: 4 posts × 0.20 back.
    assert (order.status, order.posts_done, order.refunded) == (
        OrderStatus.PARTIAL, 6, Decimal("0.80")
    )  # fmt: skip
    assert await panel.balance() == before - Decimal("1.20")


async def test_subscription_fields_are_checked_again_in_core(panel: Panel) -> None:
    async with panel.sm() as session, write_tx(session):
        sub_service = await seed.service(
            session, name="Auto Likes", type="subscriptions", min=50, max=5000, mode="auto",
            provider_id=panel.provider_id, provider_service_id="5",
        )  # fmt: skip
        sub_id = sub_service.id
    wide = Subscription("nasa", min=10, max=200, posts=10, delay=30)
    for draft, code in (
        (OrderDraft(sub_id, "nasa", 10, wide.as_extra()), "subscription_range"),
        (OrderDraft(sub_id, "nasa", 10, {}), "subscription_incomplete"),
    ):
        with pytest.raises(OrderError) as refused:
            await place(panel, draft, f"bad-{code}")
        assert refused.value.code == code


async def test_an_active_subscription_can_be_canceled_and_refunds_the_posts_left(
    panel: Panel,
) -> None:
    async with panel.sm() as session, write_tx(session):
        sub_service = await seed.service(
            session, name="Auto Views", type="subscriptions", price=Decimal("1.00"), min=50,
            max=5000, mode="auto", provider_id=panel.provider_id, provider_service_id="5",
            cancel=True,
        )  # fmt: skip
        sub_id = sub_service.id
    panel.fake.services[4]["cancel"] = True  # this provider cancels its subscriptions
    sub = Subscription("nasa", min=100, max=100, posts=10, delay=0)
    order = await place(panel, OrderDraft(sub_id, "nasa", 10, sub.as_extra()), "cancel-sub")
    order = await submit(panel, order.id)
    panel.fake.serve_posts(order.provider_order_id, 3)
    assert (await synced(panel, order.id)).status == OrderStatus.IN_PROGRESS
    async with panel.sm() as session:
        result = await request_cancel(session, panel.registry, CUSTOMER, order.id)
    assert result.code == "cancel_requested"
    order = await synced(panel, order.id)
    # 7 of 10 posts not served, 0.10 each.
    assert (order.status, order.refunded) == (OrderStatus.CANCELED, Decimal("0.70"))
