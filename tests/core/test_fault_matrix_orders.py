"""The fault matrix at the order: a customer's order submitted to a provider failing each way
(SPEC §5): the documented status, the customer told in plain words, one add at most, money
exact (balance == ledger). On SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.i18n import create_i18n
from core import notify
from core.statuses import OrderStatus
from handlers.notifications import render
from tests.core.test_submission import place, submit
from tests.harness.panel import Panel
from tests.providers.test_fault_matrix import FAULTS, arrange

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
