"""The hot path stays lean: SQL statements per update, counted with an engine event, within
the budget. A catalogue step reads the cached catalogue (core.catalog_cache) for a customer
the process remembers (bot.middlewares.KnownUsers): no statement at all; the step that shows
the confirmation reads the balance. The first read of a process costs the versions, the
customer's row and the catalogue. The provider is not asked during Confirm at all (its lane
is held here, so only the handler's statements are counted)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event

from tests.fakes.provider_server import FakeProvider
from tests.harness.ledger import give_money
from tests.harness.order_seed import orders_of, seed_catalog

ALICE = 1001
BROWSE_BUDGET = 0  # /neworder, a category, a service, the link
QUOTE_BUDGET = 2  # the quantity, answered with the confirmation: BEGIN and the balance
COLD_BUDGET = 5  # BEGIN, the users and catalogue versions, the customer, the catalogue
# The service, the order (its insert checks the key), the debit, the ledger, the history (the
# driver sends BEGIN with the first of them).
CONFIRM_BUDGET = 5


async def test_statements_per_step_stay_within_the_budget(app, chat) -> None:
    catalog = await seed_catalog(app.sessionmaker, provider_url=FakeProvider.closed_url())
    await give_money(app.sessionmaker, ALICE, "10")
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(app.engine.sync_engine, "before_cursor_execute", seen)
    app.lanes.running = False  # Confirm wakes no lane: its statements are the handler's own
    alice = chat(ALICE)
    await alice.send("/start")  # registered before counting (first contact writes the user)

    async def count(step: Callable[[], Awaitable[Any]]) -> int:
        before = len(statements)
        await step()
        return len(statements) - before

    cold = await count(lambda: alice.send("/neworder"))  # the process's first catalogue read
    steps = {
        "neworder": await count(lambda: alice.send("/neworder")),
        "category": await count(lambda: alice.press_button("Instagram")),
        "service": await count(lambda: alice.press_button("Instagram Followers Auto")),
        "link": await count(lambda: alice.send("https://instagram.com/alice")),
        "quantity": await count(lambda: alice.send("1000")),
    }
    confirm = await count(lambda: alice.press_button("Confirm"))
    event.remove(app.engine.sync_engine, "before_cursor_execute", seen)

    assert "Order #" in alice.last.text and "placed" in alice.last.text
    [order] = await orders_of(app.sessionmaker, ALICE)
    assert order.service_id == catalog.auto and order.status == "queued"
    quantity = steps.pop("quantity")
    over = {name: n for name, n in steps.items() if n > BROWSE_BUDGET}
    assert not over, f"catalogue steps over {BROWSE_BUDGET} statements: {over}"
    assert quantity <= QUOTE_BUDGET, f"the quantity step took {quantity} statements"
    assert confirm <= CONFIRM_BUDGET, f"Confirm took {confirm} statements"
    assert cold <= COLD_BUDGET, f"the first catalogue read took {cold} statements"
