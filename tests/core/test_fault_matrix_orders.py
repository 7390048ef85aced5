"""The fault matrix at the order: a customer's order submitted to a provider failing each way
(SPEC §5), and the customer's refill and cancel requests meeting the same failures: the
documented outcome, the customer told in plain words, one request at most, money exact
(balance == ledger). On SQLite and PostgreSQL."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bot.i18n import create_i18n
from core import notify
from core.customer_requests import request_cancel, request_refill
from core.statuses import OrderStatus
from db.models import Order, ProviderFailure, Refill
from handlers.my_orders import request_result_text
from handlers.notifications import render
from tests.core.test_submission import place, submit
from tests.harness.panel import Panel
from tests.harness.settings import CUSTOMER
from tests.providers.test_fault_matrix import DEADLINE, FAULTS, MARGIN, arrange

# fault → (order status, what the customer reads, balance after: 10.00 at the start)
EXPECTED: dict[str, tuple[str, str, str]] = {
    "timeout before send": (OrderStatus.QUEUED, "", "8.00"),
    '{"error"}': (OrderStatus.FAILED, "Refunded 2.00 USD", "10.00"),
}
AMBIGUOUS = (OrderStatus.REVIEW, "We are checking this order", "8.00")


@pytest.mark.parametrize("fault", FAULTS)
async def test_an_order_meets_each_provider_failure(panel: Panel, fault: str) -> None:
    panel.fake.trickle_interval = 0.05
    if fault == "timeout before send":
        await panel.fake.stop()  # nothing listens: the add never leaves
    else:
        arrange(panel.fake, "add", fault)
    order = await submit(panel, await place(panel))
    status, told, balance = EXPECTED.get(fault, AMBIGUOUS)
    assert order.status == status, (fault, order.status, order.last_error)
    assert order.provider_order_id is None
    # one add reached the provider (none when it could not connect); never sent again
    assert panel.fake.count("add") == (0 if fault == "timeout before send" else 1)
    assert await panel.balance() == Decimal(balance)  # asserts balance == sum of the ledger
    notes = await panel.notifications(kind=notify.ORDER_STATUS)
    if not told:
        assert notes == []  # still queued: nothing to tell yet, it is sent again later
        return
    [note] = notes
    text = render(create_i18n("en"), "en", note.kind, note.payload, currency="USD")
    assert told in text, text
    assert "Traceback" not in text and "HTTP" not in text and "<html" not in text


# The customer's requests after submission: what each one asks of the provider, and the
# status its order has when the button is offered (SPEC §3: refill once completed, cancel
# before it started).
REQUESTS = {
    "refill": (request_refill, OrderStatus.COMPLETED, "Completed"),
    "cancel": (request_cancel, OrderStatus.PENDING, "Pending"),
}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("action", list(REQUESTS))
async def test_a_customer_request_meets_each_provider_failure(
    panel: Panel, action: str, fault: str
) -> None:
    """Refill or cancel pressed while the provider fails: nothing recorded as requested, the
    order and the money as they were, one request at most, the failure kept for admins, and
    the customer told in plain words what happened (a refusal, or no answer) and to try
    again later."""
    request, status, remote_status = REQUESTS[action]
    [(order_id, remote)] = await panel.add_orders(1, status=status, remote_status=remote_status)
    panel.fake.trickle_interval = 0.05
    if fault == "timeout before send":
        await panel.fake.stop()
    else:
        arrange(panel.fake, action, fault)
    started = time.monotonic()
    async with panel.sm() as session:
        result = await request(session, panel.registry, CUSTOMER, order_id)
    assert time.monotonic() - started < DEADLINE + MARGIN  # the press waits seconds at most

    refused = fault == '{"error"}'  # the provider said no; every other fault is no answer
    code = "provider_refused" if refused else "provider_unavailable"
    assert (result.ok, result.code) == (False, code), (fault, result)
    sent = panel.fake.requests_for(action)
    assert [r.form["orders"] for r in sent] == ([] if fault == "timeout before send" else [remote])
    async with panel.sm() as session:
        order = await session.get(Order, order_id)
        assert order is not None and order.status == status and order.refunded == 0
        assert await session.scalar(select(func.count()).select_from(Refill)) == 0
        [failure] = await session.scalars(select(ProviderFailure))
        assert (failure.action, failure.order_id) == (action, order_id)
    assert await panel.balance() == Decimal("8.00")  # charged once, nothing moved
    assert await panel.notifications() == []  # nothing happened to the order: no message
    i18n = create_i18n("en")
    with i18n.context(), i18n.use_locale("en"):
        told = request_result_text(order_id, result, "USD", order)
    assert told == (
        "The provider refused the request. Please try again later."
        if refused
        else "We could not get an answer from the provider. Please try again in a few minutes."
    )
