"""Watch jobs (SPEC §4 alerts): provider balances, provider prices vs ours, stale orders."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select, update

from core.alerts import AlertKind
from core.statuses import OrderStatus
from core.watch import check_balances, check_prices, check_stale_orders
from db.engine import write_tx
from db.models import Order, Provider, ProviderFailure, ProviderService, Service
from db.types import utcnow
from tests.harness.panel import Panel
from tests.harness.settings import ADMINS


async def alerts(panel: Panel, kind: str) -> list[dict[str, object]]:
    return [n.payload for n in await panel.notifications(kind="admin_alert")
            if n.payload["alert"] == kind]  # fmt: skip


async def provider(panel: Panel) -> Provider:
    async with panel.sm() as session:
        row = await session.get(Provider, panel.provider_id)
        assert row is not None
        return row


async def set_threshold(panel: Panel, threshold: str) -> None:
    async with panel.sm() as session, write_tx(session):
        await session.execute(update(Provider).values(low_balance_threshold=Decimal(threshold)))


async def test_balances_are_stored_and_a_low_one_alerted_once(any_panel: Panel) -> None:
    panel = any_panel
    await set_threshold(panel, "50")
    await check_balances(panel.sm, panel.registry, ADMINS)
    stored = await provider(panel)
    assert stored.balance == Decimal("100") and stored.currency == "USD"
    assert stored.balance_checked_at is not None
    assert await alerts(panel, AlertKind.PROVIDER_LOW_BALANCE) == []
    await set_threshold(panel, "150")
    await check_balances(panel.sm, panel.registry, ADMINS)
    await check_balances(panel.sm, panel.registry, ADMINS)
    [alert] = await alerts(panel, AlertKind.PROVIDER_LOW_BALANCE)
    assert alert["balance"] == "100.00" and alert["threshold"] == "150.00"


async def test_a_failing_balance_check_is_logged_and_alerted(panel: Panel) -> None:
    panel.fake.set_fault("balance", "http_500")
    await check_balances(panel.sm, panel.registry, ADMINS)
    await check_balances(panel.sm, panel.registry, ADMINS)
    assert len(await alerts(panel, AlertKind.PROVIDER_FAILING)) == 1
    async with panel.sm() as session:
        errors = list(await session.scalars(select(ProviderFailure)))
    assert [e.action for e in errors] == ["balance", "balance"]
    assert (await provider(panel)).last_error
    panel.fake.clear_faults()
    panel.fake.respond("balance", body={"error": "Invalid API key"})
    await check_balances(panel.sm, panel.registry, ADMINS)
    assert len(await alerts(panel, AlertKind.PROVIDER_KEY)) == 1


async def test_provider_rates_are_refreshed_and_a_price_below_cost_alerted_once(
    any_panel: Panel,
) -> None:
    panel = any_panel
    async with panel.sm() as session, write_tx(session):
        for remote, rate in (("1", "0.90"), ("3", "5.00"), ("99", "1.00")):
            session.add(ProviderService(
                provider_id=panel.provider_id, service_id=remote, name=f"remote {remote}",
                rate=Decimal(rate), min=1, max=1000,
                rate_basis="flat" if remote == "3" else "per_1000",
            ))  # fmt: skip
        base = await session.get(Service, panel.service_id)
        assert base is not None
        package = Service(
            category_id=base.category_id, name="Starter Package", type="Package",
            price=Decimal("6.00"), rate_basis="flat", min=1, max=1, mode="auto",
            provider_id=panel.provider_id, provider_service_id="3",
        )  # fmt: skip
        gone = Service(
            category_id=base.category_id, name="Old Likes", price=Decimal("1.00"),
            provider_id=panel.provider_id, provider_service_id="99", mode="auto",
        )  # fmt: skip
        session.add_all([package, gone])
    await check_prices(panel.sm, panel.registry, ADMINS)
    assert await alerts(panel, AlertKind.PROVIDER_PRICE_ABOVE) == []
    [unavailable] = await alerts(panel, AlertKind.SERVICE_UNAVAILABLE)
    assert unavailable["service_id"] == gone.id

    panel.fake.services[0]["rate"] = "2.50"  # followers: now above our 2.00 per 1000
    panel.fake.services[2]["rate"] = "6.10"  # the package: above our 6.00 flat
    await check_prices(panel.sm, panel.registry, ADMINS)
    await check_prices(panel.sm, panel.registry, ADMINS)
    above = await alerts(panel, AlertKind.PROVIDER_PRICE_ABOVE)
    assert sorted((a["service_id"], a["rate"], a["price"], a["per"]) for a in above) == [
        (panel.service_id, "2.50", "2.00", "1000"),
        (package.id, "6.10", "6.00", "package"),
    ]
    assert len(await alerts(panel, AlertKind.SERVICE_UNAVAILABLE)) == 1
    async with panel.sm() as session:
        rows = {r.service_id: r for r in await session.scalars(select(ProviderService))}
    assert rows["1"].rate == Decimal("2.5") and rows["1"].available
    assert rows["3"].rate == Decimal("6.1")
    assert not rows["99"].available


async def test_stale_orders_make_one_admin_digest(panel: Panel) -> None:
    old = await panel.add_orders(3)
    fresh = await panel.add_orders(1)
    done = await panel.add_orders(1, status=OrderStatus.COMPLETED)
    async with panel.sm() as session, write_tx(session):
        await session.execute(
            update(Order)
            .where(Order.id.in_([i for i, _ in old + done]))
            .values(status_changed_at=utcnow() - timedelta(hours=30))
        )
    listed = await check_stale_orders(panel.sm, ADMINS)
    assert listed == [i for i, _ in old]
    await check_stale_orders(panel.sm, ADMINS)
    [digest] = await alerts(panel, AlertKind.STALE_ORDERS)
    assert digest["count"] == 3 and digest["order_ids"] == [i for i, _ in old]
    assert fresh[0][0] not in digest["order_ids"]  # type: ignore[operator]


async def test_an_empty_catalogue_answer_changes_nothing_and_alerts_nothing(
    panel: Panel,
) -> None:
    """Like /import: a provider glitch answering [] must not mark its whole catalogue gone
    and send admins one "no longer offered" alert per mapped service."""
    async with panel.sm() as session, write_tx(session):
        session.add(ProviderService(
            provider_id=panel.provider_id, service_id="1", name="remote 1",
            rate=Decimal("0.90"), min=1, max=1000,
        ))  # fmt: skip
    panel.fake.services.clear()
    [check] = await check_prices(panel.sm, panel.registry, ADMINS)
    assert check.gone == [] and check.services == 0
    assert await alerts(panel, AlertKind.SERVICE_UNAVAILABLE) == []
    async with panel.sm() as session:
        [row] = await session.scalars(select(ProviderService))
    assert row.available


async def test_a_rate_beyond_the_money_range_keeps_the_row_and_the_rest_refreshes(
    panel: Panel,
) -> None:
    """As /import skips such a row: one absurd rate must not fail the whole price watch."""
    async with panel.sm() as session, write_tx(session):
        for remote in ("1", "2"):
            session.add(ProviderService(
                provider_id=panel.provider_id, service_id=remote, name=f"remote {remote}",
                rate=Decimal("0.90"), min=1, max=1000,
            ))  # fmt: skip
    panel.fake.services[0]["rate"] = "1000000000000000000"
    panel.fake.services[1]["rate"] = "0.95"
    [check] = await check_prices(panel.sm, panel.registry, ADMINS)
    assert check.error is None
    async with panel.sm() as session:
        rows = {r.service_id: r for r in await session.scalars(select(ProviderService))}
    assert rows["1"].rate == Decimal("0.90") and rows["1"].available
    assert rows["2"].rate == Decimal("0.95")
