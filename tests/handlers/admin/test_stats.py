"""/stats: orders per status, revenue (charges − refunds), provider cost and profit."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from db.engine import write_tx
from db.models import Provider, User
from db.types import utcnow
from tests.harness import seed


async def test_stats_per_period(app, admin) -> None:
    now = utcnow()
    async with app.sessionmaker() as session, write_tx(session):
        session.add(User(id=1001, first_name="Alice"))
        await session.flush()
        rows = [
            # status, charge, refunded, cost, age
            ("completed", "10", "0", "6", timedelta(0)),
            ("partial", "4", "1", "2", timedelta(0)),
            ("canceled", "3", "3", "2", timedelta(days=2)),  # provider refunds us too
            ("completed", "5", "0", "3", timedelta(days=30)),
        ]
        for status, charge, refunded, cost, age in rows:
            await seed.order(
                session, 1001, status=status, charge=Decimal(charge),
                refunded=Decimal(refunded), cost=Decimal(cost), created_at=now - age,
            )  # fmt: skip
    text = (await admin.send("/stats")).text
    today, week, total = text.split("\n\n")[1:4]
    assert "Orders: 2 (completed 1, partial 1)" in today
    assert "Revenue: 13.00 USD (charges 14.00 − refunds 1.00)" in today
    assert "Provider cost: 8.00 · Profit: 5.00 USD" in today
    assert "Orders: 3 (canceled 1, completed 1, partial 1)" in week
    assert "Revenue: 13.00 USD" in week
    assert "Orders: 4" in total and "Revenue: 18.00 USD" in total
    assert "Provider cost: 11.00 · Profit: 7.00 USD" in total


async def test_stats_on_an_empty_panel_and_foreign_currencies(app, admin) -> None:
    text = (await admin.send("/stats")).text
    assert text.count("Orders: 0") == 3 and "Profit: 0.00 USD" in text
    assert "bill in" not in text
    async with app.sessionmaker() as session, write_tx(session):
        session.add(Provider(name="br", api_url="demo", api_key="demo", currency="BRL"))
    text = (await admin.send("/stats")).text
    assert "Some providers bill in BRL: their costs are added as if in USD" in text
