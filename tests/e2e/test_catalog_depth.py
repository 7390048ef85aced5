"""Two providers, one in roubles, run from the chat end to end: failover, drip-feed,
subscriptions and profit in the panel's currency.

The real app polls a fake Bot API over HTTP and talks to two fake SMM providers over HTTP;
its scheduler syncs statuses and delivers the outbox. Every amount below is exact.
"""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import select

from db.models import Order, Service
from tests.fakes.provider_server import FakeProvider
from tests.fakes.telegram_server import FakeTelegram, run_polling
from tests.fakes.telegram_user import FakeUser
from tests.harness.e2e import app_on, open_followers
from tests.harness.ledger import balance
from tests.harness.settings import ADMIN_ID

KEY_A, KEY_B = "provider-a-key-0123456789", "provider-b-key-9876543210"
ALICE = 1001


async def confirm(alice: FakeUser, charge: str) -> str:
    screen = await alice.wait_message("Please check your order")
    assert f"Charge: {charge} USD" in screen.text, screen.text
    await alice.press("✅ Confirm")
    placed = await alice.wait_message(lambda m: "Order #" in m.text and "Pending" in m.text)
    found = re.search(r"Order #(\d+)", placed.text)
    assert found, placed.text
    return found.group(1)


async def order_of(app, order_id: str) -> Order:
    async with app.sessionmaker() as session:
        order = await session.get(Order, int(order_id), populate_existing=True)
        assert order is not None
        return order


async def test_failover_dripfeed_subscription_and_profit_in_our_currency(
    database_url: str,
) -> None:
    async with (
        FakeTelegram() as tg,
        FakeProvider(api_key=KEY_A, balance="250") as a,
        FakeProvider(api_key=KEY_B, balance="100000", currency="RUB") as b,
    ):
        b.services[0]["rate"] = "90"  # Instagram Followers: 90 RUB per 1000 at B
        async with app_on(database_url, tg, status_sync_seconds=1) as app:
            async with run_polling(app.dp, app.bot):
                owner, alice = tg.user(ADMIN_ID, "Owner"), tg.user(ALICE, "Alice")

                # The owner connects A (USD) and B (RUB): B needs a rate before anything.
                await owner.send(f"/addprovider a {a.url} {KEY_A}")
                await owner.wait_message("connected")
                await owner.send("/import a 50")
                assert "Created: 5" in (await owner.wait_message("Imported")).text
                await owner.send(f"/addprovider b {b.url} {KEY_B}")
                assert "set a rate" in (await owner.wait_message("connected")).text
                await owner.send("/import b 50")
                await owner.wait_message("b bills in RUB: set its rate first")
                await owner.send("/providerset b fx 0.012")
                await owner.wait_message("1 RUB = 0.012 USD")
                await owner.send("/import b 50")
                await owner.wait_message("Imported")
                async with app.sessionmaker() as session:
                    rows = (await session.execute(select(Service.id, Service.provider_id))).all()
                    ours = {sid for sid, pid in rows if pid == 1}
                    theirs = sorted(sid for sid, pid in rows if pid == 2)
                followers = min(ours)  # A's service 1, the first created
                for service_id in theirs:  # B is a backup, not a second shop window
                    await owner.send(f"/service {service_id} off")
                    await owner.wait_message("off,")
                await owner.send(f"/setprice {followers} 2")
                await owner.wait_message("price 1.35 → 2.00 USD")
                await owner.send(f"/map {followers} b 1 2")
                mapped = await owner.wait_message("is mapping 2")
                assert "2. b #1 · cost 1.08 USD" in mapped.text  # 90 RUB × 0.012
                await alice.send("/start")
                await alice.wait_message("Hello")
                await owner.send(f"/topup {ALICE} 20")
                await alice.wait_message("topped up", timeout=10)

                # A drip-feed order: 100 in each of 5 runs, every 30 minutes.
                await open_followers(alice, "100")
                await alice.press("💧 Drip-feed")
                await alice.wait_message("How many runs?")
                await alice.send("5")
                await alice.wait_message("minutes between runs")
                await alice.send("30")
                drip = await confirm(alice, "1.00")
                sent = a.requests_for("add")[-1].form
                assert (sent["quantity"], sent["runs"], sent["interval"]) == ("100", "5", "30")
                remote = (await order_of(app, drip)).provider_order_id
                a.run_dripfeed(remote, 2)
                await alice.wait_message(f"#{drip}", timeout=10)
                a.run_dripfeed(remote, 3, "Canceled")
                told = await alice.wait_message("Cancel", timeout=10)
                assert "0.40 USD" in told.text  # 2 of 5 runs not done: 200 of 500 back
                assert (await order_of(app, drip)).runs_done == 3

                # A subscription: 10 new posts, 100 to 200 likes each.
                await alice.send("/neworder")
                await alice.press("Instagram")
                await alice.press("Instagram Auto Likes")
                await alice.wait_message("username")
                for answer, prompt in (
                    ("@alice", "fewest per new post"),
                    ("100", "most per new post"),
                    ("200", "How many new posts"),
                    ("10", "Delay before each post"),
                    ("30", "End date"),
                ):
                    await alice.send(answer)
                    await alice.wait_message(prompt)
                await alice.send("-")
                sub = await confirm(alice, "1.20")  # 10 posts × 200 at 0.60 per 1000
                sent = a.requests_for("add")[-1].form
                assert (sent["username"], sent["posts"], sent["delay"]) == ("alice", "10", "30")
                a.serve_posts((await order_of(app, sub)).provider_order_id, 6, "Completed")
                told = await alice.wait_message("Partial", timeout=10)
                assert "0.48 USD" in told.text  # 4 posts not served × 0.12
                assert (await order_of(app, sub)).posts_done == 6

                # A runs out of funds and disables the service: the next order goes to B.
                a.balance = Decimal(0)
                a.disabled.add("1")
                await open_followers(alice, "1000")
                await alice.press("All at once")
                moved = await confirm(alice, "2.00")
                order = await order_of(app, moved)
                assert (order.status, order.provider_id, order.provider_service_id) == (
                    "pending", 2, "1"
                )  # fmt: skip
                assert a.count("add") == 3 and b.count("add") == 1

                # B says Partial: synced through B, refunded by what B did not deliver.
                b.set_status(order.provider_order_id, "Partial", remains=250, charge="67.5")
                told = await alice.wait_message("Partial", timeout=10)
                assert "0.50 USD" in told.text
                order = await order_of(app, moved)
                assert (order.refunded, order.cost) == (Decimal("0.5"), Decimal("67.5"))

                # Profit counts B's roubles in dollars: 67.5 × 0.012 = 0.81.
                await owner.send("/stats")
                stats = await owner.wait_message("Panel statistics")
                total = stats.text.split("\n\n")[3]
                assert "Revenue: 2.82 USD (charges 4.20 − refunds 1.38)" in total, total
                assert "Provider cost: 0.81 · Profit: 2.01 USD" in total, total
                assert "left out" not in stats.text
            # 20 − 1.00 + 0.40 − 1.20 + 0.48 − 2.00 + 0.50
            assert await balance(app.sessionmaker, ALICE) == Decimal("17.18")
