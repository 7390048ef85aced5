"""What the customer is told right after Confirm (answered from the database, before the
provider is asked), and what the order's lane then does for outcomes that stay in the panel
(queued) — pending, failed and review run end to end in tests/e2e."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from providers import ProviderRegistry
from tests.fakes.provider_server import FakeProvider
from tests.harness.ledger import balance, give_money
from tests.harness.order_seed import orders_of, seed_catalog

ALICE = 1001


@pytest.fixture
async def registry(app) -> AsyncIterator[ProviderRegistry]:
    registry = ProviderRegistry(
        read_timeout=0.5, connect_timeout=0.5, read_retries=0, requests_per_second=1000
    )
    app.dp.workflow_data["registry"] = registry
    app.lanes.registry = registry
    yield registry
    await registry.close()


async def confirm_auto_order(app, chat, link: str = "https://instagram.com/alice") -> str:
    """Alice (with 10 USD, credited once) orders 1000 of the provider-backed service; her
    confirmation once the lanes have settled."""
    await give_money(app.sessionmaker, ALICE, "10")
    alice = chat(ALICE)
    await alice.send("/neworder")
    await alice.press_button("Instagram")
    await alice.press_button("Instagram Followers Auto")
    await alice.send(link)
    await alice.send("1000")
    text = (await alice.press_button("Confirm")).text
    await app.lanes.settled()
    return text


async def test_unreachable_provider_keeps_the_order_queued(app, chat, registry) -> None:
    await seed_catalog(app.sessionmaker, provider_url=FakeProvider.closed_url())
    text = await confirm_auto_order(app, chat)
    [order] = await orders_of(app.sessionmaker, ALICE)
    assert f"Order #{order.id} placed" in text
    assert "Status: Queued, it will be sent shortly." in text
    assert order.status == "queued" and order.attempts == 1
    assert await balance(app.sessionmaker, ALICE) == Decimal("8.50")


async def test_provider_without_funds_keeps_the_order_queued(app, chat, registry) -> None:
    async with FakeProvider(api_key="k") as fake:
        fake.set_fault("add", "not_enough_funds", times=1)
        await seed_catalog(app.sessionmaker, provider_url=fake.url, provider_key="k")
        text = await confirm_auto_order(app, chat)
        assert fake.count("add") == 1
    [order] = await orders_of(app.sessionmaker, ALICE)
    assert "Status: Queued, it will be sent shortly." in text
    assert order.status == "queued"
    assert await balance(app.sessionmaker, ALICE) == Decimal("8.50")


async def test_provider_in_backoff_is_not_called_again_at_confirm(app, chat, registry) -> None:
    async with FakeProvider(api_key="k") as fake:
        fake.set_fault("add", "not_enough_funds")
        await seed_catalog(app.sessionmaker, provider_url=fake.url, provider_key="k")
        await confirm_auto_order(app, chat)
        text = await confirm_auto_order(app, chat, "https://instagram.com/bob")
        assert fake.count("add") == 1  # the second order waits for the scheduler
    assert "Status: Queued, it will be sent shortly." in text
    assert [o.status for o in await orders_of(app.sessionmaker, ALICE)] == ["queued", "queued"]


async def test_disabled_provider_is_not_called(app, chat, registry) -> None:
    from db.engine import write_tx
    from db.models import Provider

    async with FakeProvider(api_key="k") as fake:
        await seed_catalog(app.sessionmaker, provider_url=fake.url, provider_key="k")
        async with app.sessionmaker() as session, write_tx(session):
            provider = await session.get(Provider, 1)
            assert provider is not None
            provider.enabled = False
        text = await confirm_auto_order(app, chat)
        assert fake.count("add") == 0
    assert "Status: Queued, it will be sent shortly." in text
