"""An owner with only a provider URL and key runs the panel from the chat, end to end.

The real app polls a fake Bot API over HTTP, talks to a fake SMM provider over HTTP and keeps
its data in a real SQLite file; its scheduler delivers the outbox and syncs statuses.
"""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import select

from db.models import Order
from tests.fakes.provider_server import FakeProvider
from tests.fakes.telegram_server import FakeTelegram, run_polling
from tests.harness.e2e import app_on, open_followers
from tests.harness.ledger import balance
from tests.harness.settings import ADMIN_ID

KEY = "owner-provider-key-0123456789"
ALICE = 1001


async def test_owner_connects_imports_prices_tops_up_and_resolves_a_review(
    database_url: str,
) -> None:
    async with (
        FakeTelegram() as tg,
        FakeProvider(api_key=KEY, balance="250") as provider,
        app_on(database_url, tg, status_sync_seconds=1) as app,
    ):
        async with run_polling(app.dp, app.bot):
            owner, alice = tg.user(ADMIN_ID, "Owner"), tg.user(ALICE, "Alice")

            # 1. Connect the provider: the key is checked at once and kept out of the chat.
            await owner.send(f"/addprovider main {provider.url} {KEY}")
            connected = await owner.wait_message("connected")
            assert "Balance: 250.00 USD" in connected.text
            assert KEY not in connected.text
            assert tg.calls_of("deleteMessage", chat_id=ADMIN_ID)  # the command with the key

            # 2. Import its catalogue with a 50% markup, find the service, fix its price.
            await owner.send("/import main 50")
            imported = await owner.wait_message("Imported")
            assert "Created: 5" in imported.text
            await owner.send("/services Instagram")
            listing = await owner.wait_message("Services")
            found = re.search(r"#(\d+) Instagram Followers — 1\.35/1k", listing.text)
            assert found, listing.text
            service_id = found.group(1)
            await owner.send(f"/setprice {service_id} 0.5")
            assert "Refused" in (await owner.wait_message("below")).text
            await owner.send(f"/setprice {service_id} 2")
            await owner.wait_message("price 1.35 → 2.00 USD")

            # 3. Top up a customer: she is told by the outbox sender.
            await alice.send("/start")
            await alice.wait_message("Hello")
            await owner.send(f"/topup {ALICE} 10 welcome <bonus>")
            await owner.wait_message("Credited 10.00 USD")
            told = await alice.wait_message("topped up", timeout=10)
            assert "10.00 USD" in told.text and "welcome <bonus>" in told.text

            # 4. She orders; the provider creates the order but its answer is unreadable.
            provider.set_fault("add", "malformed_json", times=1)
            await open_followers(alice, "1000")
            await alice.press("All at once")  # the service offers drip-feed
            await alice.wait_message("Please check your order")
            await alice.press("✅ Confirm")
            await alice.wait_message("awaiting review")
            async with app.sessionmaker() as session:
                order = await session.scalar(select(Order))
            assert order is not None and order.status == "review"
            assert order.charge == Decimal(2)
            await owner.wait_message(f"Order #{order.id} needs review", timeout=10)

            # 5. The owner resolves it: resending is guarded, the provider already has it.
            await owner.send("/review")
            await owner.wait_message("Orders waiting for you")
            await owner.press(f"#{order.id} ↻")
            warning = await owner.wait_message("may already have")
            assert provider.count("add") == 1
            assert any("Yes, send" in label for label in warning.button_texts)
            [provider_order] = provider.orders
            await owner.send(f"/setstatus {order.id} pending {provider_order}")
            await owner.wait_message("review → pending")
            await alice.wait_message(f"#{order.id}", timeout=10)

            # Status sync now follows it: the provider completes, she hears about it.
            provider.set_status(provider_order, "Completed", remains=0)
            done = await alice.wait_message("Completed", timeout=10)
            assert f"#{order.id}" in done.text
            assert provider.count("add") == 1
        assert await balance(app.sessionmaker, ALICE) == Decimal(8)
