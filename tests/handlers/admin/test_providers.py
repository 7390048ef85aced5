"""/addprovider, /providerset, /providers, /errors against a FakeProvider over HTTP."""

from __future__ import annotations

from decimal import Decimal

from aiogram.methods import DeleteMessage
from sqlalchemy import select

from db.engine import write_tx
from db.models import AdminAuditLog, Provider, ProviderFailure
from tests.fakes.provider_server import FakeProvider
from tests.harness.console import API_KEY, connect_and_import
from tests.harness.settings import ADMIN_ID


async def providers(app) -> list[Provider]:
    async with app.sessionmaker() as session:
        return list(await session.scalars(select(Provider).order_by(Provider.id)))


async def test_addprovider_checks_the_key_and_answers_with_the_balance(app, admin, fake) -> None:
    fake.balance = Decimal("123.45")
    reply = await admin.send(f"/addprovider fp {fake.url} {API_KEY}")
    assert "Provider <b>fp</b> connected" in reply.text
    assert "Balance: 123.45 USD" in reply.text
    assert API_KEY not in reply.text and "fp-k…cdef" in reply.text
    assert fake.count("balance") == 1
    # The admin's message carried the key: the bot deleted it.
    assert any(isinstance(c, DeleteMessage) for c in reply.calls)
    [row] = await providers(app)
    assert (row.name, row.api_url, row.api_key) == ("fp", fake.url, API_KEY)
    assert row.balance == Decimal("123.45") and row.currency == "USD" and row.enabled
    async with app.sessionmaker() as session:
        audit = await session.scalar(select(AdminAuditLog))
    assert audit is not None and audit.admin_id == ADMIN_ID and audit.action == "provider.connect"
    assert API_KEY not in str(audit.after)


async def test_a_wrong_key_is_said_plainly_and_nothing_is_saved(app, admin, fake) -> None:
    reply = await admin.send(f"/addprovider fp {fake.url} wrong-key-000000000000")
    assert "Could not connect fp" in reply.text
    assert "Invalid API key" in reply.text
    assert "Nothing was saved" in reply.text
    assert await providers(app) == []


async def test_an_unreachable_url_is_said_plainly(app, admin) -> None:
    url = FakeProvider.closed_url()
    reply = await admin.send(f"/addprovider fp {url} {API_KEY}")
    assert "could not reach" in reply.text and "Nothing was saved" in reply.text
    assert await providers(app) == []


async def test_an_html_page_is_not_an_api(app, admin, fake) -> None:
    fake.set_fault("balance", "html")
    reply = await admin.send(f"/addprovider fp {fake.url} {API_KEY}")
    assert "did not answer like an SMM panel API" in reply.text
    assert await providers(app) == []


async def test_readding_updates_the_url_and_key_but_a_bad_key_changes_nothing(
    app, admin, fake
) -> None:
    await admin.send(f"/addprovider fp {fake.url} {API_KEY}")
    async with FakeProvider(api_key="second-key-0000000000") as other:
        reply = await admin.send(f"/addprovider FP {other.url} second-key-0000000000 25")
        assert "Provider <b>fp</b> updated" in reply.text
        [row] = await providers(app)
        assert (row.api_url, row.api_key) == (other.url, "second-key-0000000000")
        assert row.low_balance_threshold == Decimal(25)
        reply = await admin.send(f"/addprovider fp {other.url} typo-key-00000000000")
        assert "keeps its current URL and key" in reply.text
        [row] = await providers(app)
        assert row.api_key == "second-key-0000000000"


async def test_addprovider_usage_and_bad_arguments(app, admin) -> None:
    for text in (
        "/addprovider",
        "/addprovider fp",
        "/addprovider a b c d e",
        "/addprovider a b c x",
    ):
        assert "Usage: <code>/addprovider NAME API_URL API_KEY" in (await admin.send(text)).text
    reply = await admin.send("/addprovider fp ftp://x.example key")
    assert "is not an API URL" in reply.text
    reply = await admin.send("/addprovider bad<name> https://x.example/api/v2 key")
    assert "A provider name is" in reply.text and "<name>" not in reply.text
    assert await providers(app) == []


async def test_demo_provider_connects_in_process(app, admin) -> None:
    reply = await admin.send("/addprovider demo demo demo")
    assert "Provider <b>demo</b> connected" in reply.text
    assert "Balance: 1000.00 USD" in reply.text
    assert not any(isinstance(c, DeleteMessage) for c in reply.calls)


async def test_providerset_threshold_and_switches(app, admin, fake) -> None:
    await admin.send(f"/addprovider fp {fake.url} {API_KEY}")
    reply = await admin.send("/providerset fp threshold 10.5")
    assert "alert below 10.50" in reply.text
    assert "disabled" in (await admin.send("/providerset fp off")).text
    [row] = await providers(app)
    assert row.low_balance_threshold == Decimal("10.5") and not row.enabled
    assert "enabled" in (await admin.send("/providerset fp on")).text
    for bad in (
        "/providerset",
        "/providerset fp",
        "/providerset fp threshold",
        "/providerset fp x",
    ):
        assert "Usage: <code>/providerset" in (await admin.send(bad)).text
    assert "No provider named nope" in (await admin.send("/providerset nope on")).text


async def test_providerset_paces_the_provider_and_providers_shows_it(app, admin, fake) -> None:
    await admin.send(f"/addprovider fp {fake.url} {API_KEY}")
    assert "Pace: 5 requests/s, 4 at once (default)" in (await admin.send("/providers")).text
    reply = await admin.send("/providerset fp rate 2.5")
    assert "Pace: 2.5 requests/s, 4 at once" in reply.text and "(default)" not in reply.text
    reply = await admin.send("/providerset fp concurrency 2")
    assert "Pace: 2.5 requests/s, 2 at once" in reply.text
    [row] = await providers(app)
    assert (row.rate_per_second, row.concurrency) == (2.5, 2)
    # The provider's client paces itself as the row says, at its next request.
    lane = app.registry.get(row).lane
    assert (lane.rate, lane.concurrency) == (2.5, 2)
    assert "Pace: 2.5 requests/s, 2 at once" in (await admin.send("/providers")).text
    for bad, says in (
        ("/providerset fp rate 0", "above 0 and at most 100"),
        ("/providerset fp rate 500", "above 0 and at most 100"),
        ("/providerset fp concurrency 1.5", "whole number from 1 to 32"),
        ("/providerset fp concurrency 0", "whole number from 1 to 32"),
        ("/providerset fp rate", "Usage: <code>/providerset"),
    ):
        assert says in (await admin.send(bad)).text, bad
    [row] = await providers(app)
    assert (row.rate_per_second, row.concurrency) == (2.5, 2)


async def test_providers_lists_balance_mapping_and_last_error(app, admin, fake) -> None:
    assert "No providers yet" in (await admin.send("/providers")).text
    await connect_and_import(admin, fake)
    await admin.send("/providerset fp threshold 500")
    async with app.sessionmaker() as session, write_tx(session):
        row = await session.scalar(select(Provider))
        assert row is not None
        row.last_error = "<b>Not enough funds</b>"
    fake.balance = Decimal("42")
    text = (await admin.send("/providers")).text
    assert "<b>fp</b>" in text and "enabled" in text
    assert "Balance: 42.00 USD" in text and "LOW" in text
    assert "Services mapped: 5 (5 switched on)" in text
    assert "&lt;b&gt;Not enough funds&lt;/b&gt;" in text
    assert API_KEY not in text
    fake.api_key = "rotated"
    text = (await admin.send("/providers")).text
    assert "❌ the provider refused the request: Invalid API key" in text


async def test_errors_lists_recent_provider_errors(app, admin, fake) -> None:
    assert "No provider errors" in (await admin.send("/errors")).text
    await admin.send(f"/addprovider fp {fake.url} {API_KEY}")
    await admin.send("/addprovider demo demo demo")
    async with app.sessionmaker() as session, write_tx(session):
        fp, demo = await session.scalars(select(Provider).order_by(Provider.id))
        session.add(ProviderFailure(provider_id=fp.id, action="add", order_id=7, message="<html>"))
        session.add(ProviderFailure(provider_id=demo.id, action="status", message="demo broke"))
    text = (await admin.send("/errors")).text
    assert "add · #7: &lt;html&gt;" in text and "demo broke" in text
    text = (await admin.send("/errors fp")).text
    assert "#7" in text and "demo broke" not in text
    assert "No provider named x" in (await admin.send("/errors x")).text
    assert "Usage" in (await admin.send("/errors a b")).text


async def test_a_refused_addprovider_still_deletes_the_message_with_the_key(
    app, admin, fake
) -> None:
    """A bad name, URL, threshold or argument count answers with the usage, but the message
    carrying the API key must not stay in the chat history either."""
    for command in (
        f"/addprovider bad!name {fake.url} {API_KEY}",
        f"/addprovider fp not-a-url {API_KEY}",
        f"/addprovider fp {fake.url} {API_KEY} lots",
        f"/addprovider fp {fake.url} {API_KEY} 10 extra",
    ):
        reply = await admin.send(command)
        assert "Usage" in reply.text and API_KEY not in reply.text, command
        assert any(isinstance(c, DeleteMessage) for c in reply.calls), command
        assert "was deleted from the chat" in reply.text
    assert await providers(app) == []
    # Nothing secret in these: nothing deleted.
    reply = await admin.send("/addprovider")
    assert not any(isinstance(c, DeleteMessage) for c in reply.calls)
