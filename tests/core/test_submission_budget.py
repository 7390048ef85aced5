"""The submission path stays lean: SQL statements per submitted order, counted with an
engine event, within the budget. A lane's order whose provider takes it costs: its facts
(order, service, provider account; one join), the claim (UPDATE … RETURNING what the send
needs), and the answer: the order's UPDATE, the provider's run of failures ended (a
conditional UPDATE), the history row and the confirmation's edit in the outbox. The routes
come from the lanes' snapshot (core.routing): read once, not per order."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import event, select

from core.ordering import OrderDraft, place_order
from core.routing import RouteCache
from core.statuses import OrderStatus
from core.submission import submit
from db.models import Notification, Order, OrderStatusChange
from tests.harness.panel import Panel
from tests.harness.settings import ADMINS, CUSTOMER

SUBMIT_BUDGET = 6  # facts, claim, the order's answer, the provider, history, the outbox
COLD_BUDGET = SUBMIT_BUDGET + 4  # + the catalogue version and the routes (three reads)


async def confirmed(panel: Panel, key: str) -> int:
    async with panel.sm() as session:
        draft = OrderDraft(panel.service_id, "https://instagram.com/p/x", 1000)
        placed = await place_order(
            session, CUSTOMER, draft, key=key, admin_ids=ADMINS, confirm_message_id=77
        )
        return placed.order.id


async def test_one_submission_stays_within_the_statement_budget(panel: Panel) -> None:
    first, second = await confirmed(panel, "a"), await confirmed(panel, "b")
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    routes = RouteCache(check_every=3600)
    event.listen(panel.engine.sync_engine, "before_cursor_execute", seen)
    try:
        counts = []
        for order_id in (first, second):
            before = len(statements)
            async with panel.sm() as session:
                done = await submit(
                    session, panel.registry, order_id, admin_ids=ADMINS, routes=routes
                )
            counts.append(len(statements) - before)
            assert done is not None and done.status == OrderStatus.PENDING
    finally:
        event.remove(panel.engine.sync_engine, "before_cursor_execute", seen)

    cold, warm = counts
    assert warm <= SUBMIT_BUDGET, f"one submission took {warm} statements:\n" + "\n".join(
        statements[-warm:]
    )
    assert cold <= COLD_BUDGET, f"the first submission took {cold} statements"
    assert routes.loads == 1
    # The lean path wrote everything the full one does.
    async with panel.sm() as session:
        order = await session.get(Order, second)
        assert order is not None and order.status == OrderStatus.PENDING
        assert order.provider_order_id in panel.fake.orders and order.attempts == 1
        history = await session.scalars(
            select(OrderStatusChange.new_status)
            .where(OrderStatusChange.order_id == second)
            .order_by(OrderStatusChange.id)
        )
        assert list(history) == [OrderStatus.QUEUED, OrderStatus.PENDING]
        [edit] = await session.scalars(
            select(Notification).where(Notification.dedupe_key == f"placed:{second}")
        )
        assert edit.chat_id == CUSTOMER and edit.kind == "order_placed"
        assert edit.payload["message_id"] == 77 and edit.payload["status"] == "pending"
        assert Decimal(edit.payload["refunded"]) == 0
