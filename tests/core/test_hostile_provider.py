"""A hostile provider against the real core on SQLite and PostgreSQL: a nonsense id or a
redirect never passes for an accepted or refused order, and no field blocks a status."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.status_sync import sync_order_statuses
from core.statuses import OrderStatus
from db.models import AdminAlert, Order
from tests.core.test_submission import place, submit
from tests.harness.panel import Panel


@pytest.mark.parametrize("body_text", ['{"order": 0}', '{"order": "NaN"}', '{"order": {}}'])
async def test_a_nonsense_id_sends_the_order_to_review_and_alerts_admins(
    panel: Panel, body_text: str
) -> None:
    panel.fake.respond("add", body_text=body_text)
    order = await submit(panel, await place(panel))
    assert order.status == OrderStatus.REVIEW and order.provider_order_id is None
    assert await panel.balance() == Decimal("8.00")  # still charged: the provider may have it
    async with panel.sm() as session:
        assert await session.get(AdminAlert, "orders:review") is not None


async def test_a_redirect_with_a_refusal_body_is_not_refunded(panel: Panel) -> None:
    panel.fake.respond(
        "add",
        http_status=302,
        body={"error": "Incorrect service ID"},
        headers={"Location": "https://moved.example/api/v2"},
    )
    order = await submit(panel, await place(panel))
    assert order.status == OrderStatus.REVIEW and order.refunded == 0
    assert "moved.example" in (order.last_error or "")
    assert await panel.balance() == Decimal("8.00")


async def test_an_accepted_add_whose_charge_does_not_fit_keeps_its_provider_id(
    panel: Panel,
) -> None:
    panel.fake.respond("add", body_text='{"order": 4242, "charge": "1e12"}')
    order = await submit(panel, await place(panel))
    assert order.status == OrderStatus.PENDING and order.provider_order_id == "4242"
    assert order.cost is None and "charge" in (order.last_error or "")


async def test_a_canceled_status_with_fields_too_big_to_store_is_applied_and_refunded(
    panel: Panel,
) -> None:
    panel.fake.respond("add", body_text='{"order": 777}')
    order_id = (await submit(panel, await place(panel))).id
    panel.fake.respond(
        "status",
        body_text='{"777": {"status": "Canceled", "start_count": 18446744073709551616, '
        '"remains": "1e30", "charge": "100000000000"}}',
    )
    report = await sync_order_statuses(panel.sm, panel.registry)
    assert report.changed == 1 and report.refused == 0
    async with panel.sm() as session:
        order = await session.get(Order, order_id)
        assert order is not None
        assert order.status == OrderStatus.CANCELED and order.refunded == Decimal("2.00")
        assert order.start_count is None and order.remains is None and order.cost is None
        for name in ("start_count", "remains", "charge", "1e30"):
            assert name in (order.last_error or ""), order.last_error
    assert await panel.balance() == Decimal("10.00")
