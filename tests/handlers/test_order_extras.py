"""Drip-feed and subscription orders in the chat: every field asked, checked and sent."""

from __future__ import annotations

from decimal import Decimal

from tests.fakes.provider_server import FakeProvider
from tests.harness.console import API_KEY, connect_and_import
from tests.harness.ledger import balance, give_money
from tests.harness.order_seed import orders_of
from tests.harness.settings import ADMIN_ID

ALICE = 1001


async def test_a_dripfeed_order(app, chat) -> None:
    async with FakeProvider(api_key=API_KEY) as fake:
        await connect_and_import(chat(ADMIN_ID), fake)  # followers at 1.35 per 1000
        await give_money(app.sessionmaker, ALICE, "10")
        alice = chat(ALICE)
        await alice.send("/neworder")
        await alice.press_button("Instagram")
        card = await alice.press_button("Instagram Followers ·")
        assert "Drip-feed: available" in card.text
        await alice.send("https://instagram.com/alice")
        offer = await alice.send("100")
        assert "drip-feed: 100 in each of several runs" in offer.text
        assert "Each run delivers 100" in (await alice.press_button("Drip-feed")).text
        assert "from 2 to 100" in (await alice.send("1")).text  # refused, asked again
        assert "minutes between runs" in (await alice.send("5")).text
        assert "from 1 to 1440" in (await alice.send("0")).text
        confirmation = await alice.send("30")
        assert "Drip-feed: 5 runs × 100, every 30 min — 500 in total" in confirmation.text
        assert "Charge: 0.675 USD" in confirmation.text
        await alice.press_button("Confirm")
        await app.lanes.settled()  # the provider's lane sends it
        sent = fake.requests_for("add")[-1].form
        assert (sent["quantity"], sent["runs"], sent["interval"]) == ("100", "5", "30")
        assert await balance(app.sessionmaker, ALICE) == Decimal("9.325")
        (order,) = await orders_of(app.sessionmaker, ALICE)
        assert (order.quantity, order.charge) == (500, Decimal("0.675"))
        assert order.status == "pending"
        await alice.send("/orders")
        opened = await alice.press_button(f"#{order.id}")
        assert "Drip-feed: 0 of 5 runs done, every 30 min" in opened.text


async def test_a_subscription_order(app, chat) -> None:
    async with FakeProvider(api_key=API_KEY) as fake:
        await connect_and_import(chat(ADMIN_ID), fake)  # auto likes at 0.60 per 1000
        await give_money(app.sessionmaker, ALICE, "10")
        alice = chat(ALICE)
        await alice.send("/neworder")
        await alice.press_button("Instagram")
        card = await alice.press_button("Instagram Auto Likes")
        assert "Send the account's username" in card.text
        assert "fewest per new post" in (await alice.send("https://instagram.com/nasa/")).text
        assert "from 50 to 5000" in (await alice.send("10")).text  # below the service's min
        assert "most per new post? Send a number from 100 to 5000" in (await alice.send("100")).text
        assert "How many new posts" in (await alice.send("200")).text
        assert "Delay before each post" in (await alice.send("10")).text
        assert "must be one of" in (await alice.send("7")).text
        assert "End date" in (await alice.send("30")).text
        assert "future date" in (await alice.send("31/02/2020")).text
        confirmation = await alice.send("-")
        text = confirmation.text
        assert "Account: @nasa" in text and "Per new post: 100 to 200" in text
        assert "Posts: 10 · delay 30 min · ends: no end date" in text
        assert "Charge: 1.20 USD" in text  # 10 posts × 200 at 0.60 per 1000
        await alice.press_button("Confirm")
        await app.lanes.settled()
        sent = fake.requests_for("add")[-1].form
        assert "link" not in sent and "expiry" not in sent
        assert (sent["username"], sent["min"], sent["max"], sent["posts"]) == (
            "nasa", "100", "200", "10"
        )  # fmt: skip
        (order,) = await orders_of(app.sessionmaker, ALICE)
        assert (order.link, order.quantity, order.charge) == ("nasa", 10, Decimal("1.2"))


async def test_mass_order_sends_subscriptions_to_the_chat(app, chat) -> None:
    async with FakeProvider(api_key=API_KEY) as fake:
        await connect_and_import(chat(ADMIN_ID), fake)
        await give_money(app.sessionmaker, ALICE, "10")
        from tests.harness.console import service_id_for

        likes = await service_id_for(app, "5")
        reply = await chat(ALICE).send(f"/massorder\n{likes} | https://instagram.com/nasa | 10")
        assert "asks for more details; order it with /neworder" in reply.text
