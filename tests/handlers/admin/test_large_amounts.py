"""One money range for the whole product, wide enough for IRR/VND panels: a provider balance
of 12,000,000,000 connects and is watched; a customer can hold such an amount; beyond the
range a clear refusal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.app import App
from core.watch import check_balances
from db.models import Provider
from tests.fakes.provider_server import FakeProvider
from tests.harness.apps import recording_app
from tests.harness.console import API_KEY
from tests.harness.ledger import balance
from tests.harness.settings import CUSTOMER


@pytest.fixture
async def app(any_database_url: str) -> AsyncIterator[App]:
    """The real app on SQLite and on PostgreSQL: the columns must hold the range on both."""
    app = await recording_app(any_database_url)
    yield app
    await app.close()


async def test_a_provider_balance_of_twelve_billion_connects_and_is_watched(app, admin) -> None:
    async with FakeProvider(api_key=API_KEY, balance="12000000000", currency="IRR") as fake:
        reply = await admin.send(f"/addprovider irr {fake.url} {API_KEY} 100000000")
        assert "connected" in reply.text and "12000000000" in reply.text.replace(",", "")
        fake.balance = Decimal("11999999999.5")
        await check_balances(app.sessionmaker, app.registry, frozenset())
        async with app.sessionmaker() as session:
            provider = await session.scalar(select(Provider))
        assert provider is not None and provider.balance == Decimal("11999999999.5")


async def test_customers_hold_large_amounts_and_beyond_the_range_is_refused(
    app, admin, customer
) -> None:
    await customer.send("/start")
    reply = await admin.send(f"/topup {CUSTOMER} 12000000000")
    assert "Credited" in reply.text
    assert await balance(app.sessionmaker, CUSTOMER) == Decimal("12000000000")
    reply = await admin.send(f"/topup {CUSTOMER} 50000000000")
    assert "Credited" not in reply.text and "Something went wrong" not in reply.text
    assert await balance(app.sessionmaker, CUSTOMER) == Decimal("12000000000")


async def test_a_balance_beyond_the_range_is_unknown_not_a_failure(app, admin) -> None:
    """It made /addprovider give no answer and failed the balance watch for every provider."""
    async with (
        FakeProvider(api_key=API_KEY, balance="1000000000000000") as huge,
        FakeProvider(api_key=API_KEY, balance="50") as usual,
    ):
        assert "connected" in (await admin.send(f"/addprovider huge {huge.url} {API_KEY}")).text
        assert "connected" in (await admin.send(f"/addprovider usual {usual.url} {API_KEY}")).text
        usual.balance = Decimal("49")
        checks = await check_balances(app.sessionmaker, app.registry, frozenset())
        assert all(check.error is None for check in checks)
        async with app.sessionmaker() as session:
            balances = dict((await session.execute(select(Provider.name, Provider.balance))).all())
        assert balances == {"huge": None, "usual": Decimal("49")}
        assert "Something went wrong" not in (await admin.send("/check")).text


async def test_providers_list_keeps_a_balance_beyond_the_range_unknown(app, admin) -> None:
    """/providers refreshes every balance as the watch and /check do: one bound for all."""
    async with FakeProvider(api_key=API_KEY, balance="50") as fake:
        assert "connected" in (await admin.send(f"/addprovider big {fake.url} {API_KEY}")).text
        fake.balance = Decimal("1000000000000000")
        reply = await admin.send("/providers")
        assert "big" in reply.text and "Something went wrong" not in reply.text
        async with app.sessionmaker() as session:
            provider = await session.scalar(select(Provider))
        assert provider is not None and provider.balance is None
