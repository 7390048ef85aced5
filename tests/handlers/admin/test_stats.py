"""/stats: orders per status, revenue (charges − refunds), provider cost and profit."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from aiogram.methods import SendMessage, SendPhoto

from core.stats_daily import Day, Series, daily_series
from db.engine import write_tx
from db.models import Provider, User
from db.types import utcnow
from handlers.admin import stats_chart
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
    assert "conversion rate" not in text
    async with app.sessionmaker() as session, write_tx(session):
        session.add(User(id=1001, first_name="Alice"))
        usd = Provider(name="us", api_url="demo", api_key="demo", currency="USD")
        brl = Provider(name="br", api_url="demo", api_key="demo", currency="BRL")
        session.add_all([usd, brl])
        await session.flush()
        for provider, cost in ((usd, "1"), (brl, "50"), (brl, "25")):
            await seed.order(
                session, 1001, status="completed", charge=Decimal(10), cost=Decimal(cost),
                provider_id=provider.id,
            )  # fmt: skip
    text = (await admin.send("/stats")).text
    # BRL costs are never added as if they were dollars.
    assert "Provider cost: 1.00 · Profit: 29.00 USD" in text
    assert "2 orders' costs are left out: their provider has no rate" in text
    assert "No conversion rate for br (BRL)" in text
    async with app.sessionmaker() as session, write_tx(session):
        brl.fx_rate = Decimal("0.2")
        await session.merge(brl)
    text = (await admin.send("/stats")).text
    assert "Provider cost: 16.00 · Profit: 14.00 USD" in text  # 1 + 75 × 0.2
    assert "left out" not in text and "No conversion rate" not in text


async def test_stats_answers_with_a_chart_and_the_summary_as_caption(app, admin) -> None:
    now = utcnow()
    async with app.sessionmaker() as session, write_tx(session):
        session.add(User(id=1001, first_name="Alice"))
        await session.flush()
        await seed.service(session, name="Telegram Views " + "x" * 60)
        for age, charge in ((0, "10"), (1, "4"), (40, "99")):
            await seed.order(
                session, 1001, status="completed", charge=Decimal(charge), cost=Decimal(1),
                created_at=now - timedelta(days=age),
            )  # fmt: skip
    reply = await admin.send("/stats")
    [photo] = [c for c in reply.calls if isinstance(c, SendPhoto)]
    png = photo.photo.data
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    assert "<b>Panel statistics</b>" in photo.caption and "Orders: 1" in photo.caption
    assert not [c for c in reply.calls if isinstance(c, SendMessage)]


async def test_the_series_counts_utc_days_and_top_services(app) -> None:
    now = utcnow()
    async with app.sessionmaker() as session, write_tx(session):
        session.add(User(id=1001, first_name="Alice"))
        await session.flush()
        rows = [(0, "10", "0", "completed"), (0, "5", "5", "canceled"), (29, "2", "0", "partial"),
                (30, "7", "0", "completed")]  # fmt: skip
        for age, charge, refunded, status in rows:
            await seed.order(
                session, 1001, status=status, charge=Decimal(charge), refunded=Decimal(refunded),
                cost=Decimal(1), created_at=now - timedelta(days=age),
            )  # fmt: skip
    async with app.sessionmaker() as session:
        series = await daily_series(session, currency="USD", now=now)
    assert len(series.days) == 30 and series.days[-1].day == now.date()
    today = series.days[-1]
    assert (today.orders, today.revenue, today.cost, today.profit) == (2, 10, 1, 9)
    assert series.days[0].orders == 1  # 29 days ago is in, 30 days ago is not
    [top] = series.top
    assert (top.orders, top.revenue) == (3, Decimal(12))


async def test_the_series_costs_are_in_the_panel_currency(app) -> None:
    """The chart's profit follows /stats: a foreign cost converted, or left out without a rate."""
    now = utcnow()
    async with app.sessionmaker() as session, write_tx(session):
        session.add(User(id=1001, first_name="Alice"))
        brl = Provider(name="br", api_url="demo", api_key="demo", currency="BRL")
        session.add(brl)
        await session.flush()
        await seed.order(
            session, 1001, status="completed", charge=Decimal(10), cost=Decimal(25),
            provider_id=brl.id, created_at=now,
        )  # fmt: skip
    async with app.sessionmaker() as session:
        today = (await daily_series(session, currency="USD", now=now)).days[-1]
    assert (today.revenue, today.cost) == (10, 0)  # never 25 "dollars"
    async with app.sessionmaker() as session, write_tx(session):
        brl.fx_rate = Decimal("0.2")
        await session.merge(brl)
    async with app.sessionmaker() as session:
        today = (await daily_series(session, currency="USD", now=now)).days[-1]
    assert (today.cost, today.profit) == (5, 5)


async def test_a_chart_that_cannot_be_drawn_leaves_the_text(app, admin, monkeypatch) -> None:
    def broken(*args: object) -> bytes:
        raise RuntimeError("no fonts today")

    monkeypatch.setattr(stats_chart, "draw", broken)
    reply = await admin.send("/stats")
    assert "Panel statistics" in reply.text
    assert not [c for c in reply.calls if isinstance(c, SendPhoto)]


def test_the_drawing_runs_on_an_empty_panel() -> None:
    from datetime import date

    series = Series([Day(date(2026, 11, d)) for d in range(1, 31)])
    words = stats_chart.ChartWords("t", "o", "r", "p", "top", "none", "USD")
    assert stats_chart.draw(series, words).startswith(b"\x89PNG")
