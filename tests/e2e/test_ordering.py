"""Ordering end to end: the real app polling a fake Bot API over HTTP, a fake SMM provider
over HTTP, a real SQLite file. The customer only ever talks to the chat."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import pytest

from bot.app import App
from providers import ProviderRegistry
from tests.fakes.provider_server import FakeProvider
from tests.fakes.telegram_server import FakeTelegram, run_polling
from tests.fakes.telegram_user import FakeUser
from tests.harness.e2e import app_on
from tests.harness.ledger import balance, give_money
from tests.harness.order_seed import Catalog, orders_of, seed_catalog

ALICE = 1001
KEY = "e2e-provider-key"


@dataclass
class World:
    app: App
    tg: FakeTelegram
    provider: FakeProvider
    catalog: Catalog
    alice: FakeUser


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    # Short provider timeouts, so the ambiguous case takes half a second, not twenty.
    registry = ProviderRegistry(
        read_timeout=0.5, connect_timeout=0.5, read_retries=0, requests_per_second=1000
    )
    async with (
        FakeTelegram() as tg,
        FakeProvider(api_key=KEY, timeout_sleep=2) as provider,
        app_on(database_url, tg, registry=registry) as app,
    ):
        catalog = await seed_catalog(app.sessionmaker, provider_url=provider.url, provider_key=KEY)
        await give_money(app.sessionmaker, ALICE, "10")
        async with run_polling(app.dp, app.bot):
            yield World(app, tg, provider, catalog, tg.user(ALICE, "Alice"))


async def order_in_chat(alice: FakeUser, link: str, quantity: str) -> tuple[str, str]:
    """/start → New order → Instagram → the provider-backed service → link → quantity →
    Confirm; returns what the customer reads after confirming and the Confirm button's data."""
    await alice.send("/start")
    await alice.wait_message("Hello")
    await alice.press("🛒 New order")
    await alice.wait_message("Choose a category")
    await alice.press("Instagram")
    await alice.wait_message("Choose a service")
    await alice.press("Instagram Followers Auto")
    card = await alice.wait_message("Service ID")
    assert "1.50 USD per 1000" in card.text and "Min / max: 50 / 10000" in card.text
    await alice.send(link)
    await alice.wait_message("How many?")
    await alice.send(quantity)
    confirm = await alice.wait_message("Please check your order")
    assert "Balance now: 10.00 USD" in confirm.text
    data = next(b.callback_data for row in confirm.buttons for b in row if "Confirm" in b.text)
    await alice.press("✅ Confirm")
    placed = await alice.wait_message(lambda m: "#" in m.text and m.was_edit)
    assert "Status: Queued, it will be sent shortly." in placed.text  # at once, from the DB
    # The provider's answer edits that same message: no second message in the chat.
    done = await alice.wait_message(lambda m: m.was_edit and "Queued" not in m.text)
    assert done.message_id == placed.message_id
    assert not [m for m in alice.fake.history(alice.chat_id) if m.message_id > done.message_id]
    return done.text, data or ""


async def test_order_goes_from_chat_to_provider_and_back(world: World) -> None:
    text, _ = await order_in_chat(world.alice, "https://www.instagram.com/alice_shop/", "1000")
    [order] = await orders_of(world.app.sessionmaker, ALICE)
    assert f"Order #{order.id} placed: Instagram Followers Auto." in text
    assert "Status: Pending." in text
    assert await balance(world.app.sessionmaker, ALICE) == Decimal("8.50")

    [add] = world.provider.requests_for("add")
    assert add.form == {
        "key": KEY,
        "action": "add",
        "service": "1",
        "link": "https://www.instagram.com/alice_shop/",
        "quantity": "1000",
    }
    assert order.status == "pending" and order.provider_order_id == "1000"

    await world.alice.press("📦 My orders")
    listing = await world.alice.wait_message("My orders (1)")
    assert f"#{order.id} · Instagram Followers Auto ⏳" in listing.button_texts
    await world.alice.press(f"#{order.id} · Instagram Followers Auto ⏳")
    card = await world.alice.wait_message(f"Order #{order.id}")
    assert "Status: ⏳ Pending" in card.text and "Charge: 1.50 USD" in card.text
    assert "✖ Cancel order" in card.button_texts


async def test_provider_rejection_fails_refunds_and_says_why(world: World) -> None:
    world.provider.respond("add", body={"error": "Incorrect link"})
    text, _ = await order_in_chat(world.alice, "https://instagram.com/p/gone", "2000")
    [order] = await orders_of(world.app.sessionmaker, ALICE)
    assert f"Order #{order.id} (Instagram Followers Auto) failed" in text
    assert "The provider rejected the link" in text
    assert "3.00 USD was returned to your balance" in text
    assert order.status == "failed"
    assert await balance(world.app.sessionmaker, ALICE) == Decimal("10.00")
    assert world.provider.count("add") == 1


async def test_timeout_after_sending_is_awaiting_review_and_never_resent(world: World) -> None:
    world.provider.set_fault("add", "timeout", times=1)
    text, confirm_data = await order_in_chat(world.alice, "https://instagram.com/alice", "1000")
    [order] = await orders_of(world.app.sessionmaker, ALICE)
    assert f"Order #{order.id} (Instagram Followers Auto) is awaiting review" in text
    assert order.status == "review"
    assert world.provider.count("add") == 1  # the provider has it; we never send it again
    assert await balance(world.app.sessionmaker, ALICE) == Decimal("8.50")

    # replaying the old confirmation answers with the same order and sends nothing
    await world.alice.press_data(confirm_data)
    answer = await world.alice.wait_for_callback_answer()
    assert f"Order #{order.id} is already placed: Awaiting review" in answer["text"]
    assert world.provider.count("add") == 1
    assert len(await orders_of(world.app.sessionmaker, ALICE)) == 1


async def test_double_confirm_over_http_places_one_order(world: World) -> None:
    alice = world.alice
    await alice.send("/neworder")
    await alice.press("Instagram")
    await alice.press("Instagram Followers Auto")
    await alice.wait_message("Service ID")
    await alice.send("instagram.com/alice")
    await alice.wait_message("How many?")
    await alice.send("1000")
    screen = await alice.wait_message("Please check your order")
    data = next(b.callback_data for b in screen.buttons[0] if "Confirm" in b.text)
    assert data is not None
    await alice.press_data(data, screen.message_id)
    await alice.press_data(data, screen.message_id)  # the second tap arrives before any answer
    await alice.wait_for_callback_answer()
    await alice.wait_message(lambda m: "#" in m.text and m.was_edit)
    # Confirm answers from the database; the provider's lane edits the outcome in after.
    await alice.wait_message(lambda m: m.was_edit and "Status: Pending." in m.text)
    [order] = await orders_of(world.app.sessionmaker, ALICE)
    assert world.provider.count("add") == 1
    assert await balance(world.app.sessionmaker, ALICE) == Decimal("8.50")
    answers = [c.params.get("text") or "" for c in world.tg.calls_of("answerCallbackQuery")]
    assert any(f"Order #{order.id} is already placed" in a for a in answers), answers


async def test_mass_order_with_good_and_bad_lines(world: World) -> None:
    c = world.catalog
    alice = world.alice
    await alice.send(
        "/massorder\n"
        f"{c.auto} | https://instagram.com/a | 1000\n"
        f"{c.auto} | https://tiktok.com/@a | 1000\n"
        f"{c.auto} | https://instagram.com/b | 10\n"
        "hello\n"
        f"{c.auto} | instagram.com/c | 2000"
    )
    preview = await alice.wait_message("Mass order preview")
    assert "❌ Line 2: bad link" in preview.text
    assert "❌ Line 3: quantity below the minimum 50" in preview.text
    assert "❌ Line 4: bad format" in preview.text
    assert "Valid orders: 2 of 5" in preview.text and "Total charge: 4.50 USD" in preview.text
    await alice.press("✅ Confirm")
    done = await alice.wait_message("Mass order placed: 2 orders")
    orders = await orders_of(world.app.sessionmaker, ALICE)
    assert len(orders) == 2
    for order in orders:  # answered at once; the lane sends them right after
        assert f"#{order.id} · Instagram Followers Auto — Queued" in done.text
    await world.app.lanes.settled()
    orders = await orders_of(world.app.sessionmaker, ALICE)
    assert [o.status for o in orders] == ["pending", "pending"]
    sent = world.provider.requests_for("add")  # side by side: in any order
    assert sorted((r.form["link"], r.form["quantity"]) for r in sent) == [
        ("https://instagram.com/a", "1000"),
        ("https://instagram.com/c", "2000"),
    ]
    assert await balance(world.app.sessionmaker, ALICE) == Decimal("5.50")
