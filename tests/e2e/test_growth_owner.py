"""The owner runs the business through the bot, end to end (issue "growth", done when):
a customer invited by another tops up and the referrer is credited once; the owner
broadcasts to everyone and watches the progress reach the end across a restart; a
customer's support question gets the owner's reply; /stats answers with a chart.

The real app polls the fake Bot API over HTTP with its data in a real SQLite file; its
scheduler delivers the outbox and edits the broadcast's progress.
"""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import func, select

from bot.app import App
from core.statuses import LedgerKind
from db.models import LedgerEntry, Notification
from tests.fakes.telegram_server import FakeTelegram
from tests.harness.e2e import polling_app
from tests.harness.ledger import balance
from tests.harness.settings import ADMIN_ID

ALICE, BOB = 1001, 1002
OTHERS = range(2001, 2011)


async def referral_rows(app: App) -> list[LedgerEntry]:
    async with app.sessionmaker() as session:
        return list(
            await session.scalars(
                select(LedgerEntry).where(LedgerEntry.kind == LedgerKind.REFERRAL)
            )
        )


async def broadcast_sent(app: App) -> int:
    async with app.sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).where(
                Notification.broadcast_id.is_not(None), Notification.status == "sent"
            )
        )
    return int(count or 0)


async def test_owner_grows_the_panel_from_the_chat(database_url: str) -> None:
    async with FakeTelegram() as tg:
        settings = dict(
            broadcast_rate=2,  # slow enough to restart in the middle
            referral_percent=Decimal(10),
        )
        owner, alice, bob = tg.user(ADMIN_ID, "Owner"), tg.user(ALICE, "Alice"), tg.user(BOB, "Bob")
        others = [tg.user(user_id, f"C{user_id}") for user_id in OTHERS]

        async with polling_app(database_url, tg, **settings) as app:
            # 1. Alice invites Bob with her link.
            await alice.send("/start")
            await alice.press("👥 Referrals")
            screen = await alice.wait_message("Your link")
            link = re.search(r"https://t\.me/test_smm_bot\?start=(r[0-9a-z]+)", screen.text)
            assert link, screen.text
            await bob.send(f"/start {link.group(1)}")
            await bob.wait_message("Hello")
            await alice.wait_message("Bob joined through your link", timeout=10)

            # 2. Bob tops up with Telegram Stars; Alice gets 10 % once, also when Telegram
            # delivers the same payment twice.
            await bob.send("/balance")
            await bob.press("➕ Top up")
            await bob.press("50.00 USD · 3750 ⭐")
            invoice = await bob.wait_message(lambda m: m.kind == "invoice")
            charge = await bob.pay(invoice)
            await bob.wait_message("Payment received", timeout=10)
            bonus = await alice.wait_message("Referral bonus", timeout=10)
            assert "+5.00 USD" in bonus.text and "Bob" in bonus.text
            await bob.successful_payment(invoice.invoice_payload or "", 3750, charge_id=charge)
            await bob.send("/balance")
            await bob.wait_message("Balance: 50.00 USD")
            assert [r.amount for r in await referral_rows(app)] == [Decimal(5)]

            # An admin /topup counts only once the owner says so.
            await owner.send(f"/topup {BOB} 10")
            await owner.wait_message("Credited 10.00 USD")
            await owner.send("/referrers admintopups on")
            await owner.wait_message("Saved")
            await owner.send(f"/topup {BOB} 20")
            await owner.wait_message("Credited 20.00 USD")
            await alice.wait_message("Referral bonus", timeout=10)
            assert [r.amount for r in await referral_rows(app)] == [Decimal(5), Decimal(2)]

            # 3. A support question and the owner's reply.
            await bob.send("/support")
            await bob.wait_message("Write your question")
            await bob.send("Can I pay with crypto?")
            ticket = await owner.wait_message("New ticket", timeout=10)
            await owner.reply(ticket, "Yes, soon!")
            await owner.wait_message("Sent to the customer")
            answer = await bob.wait_message("Yes, soon!", timeout=10)
            assert "ticket #" in answer.text

            # 4. The broadcast starts; the app stops in the middle of it.
            for customer in others:
                await customer.send("/start")
                await customer.wait_message("Hello")
            await owner.send("/broadcast")
            await owner.wait_message("Send the message")
            await owner.send("Weekend sale: −20% on everything")
            await owner.press("Skip ▶")
            await owner.wait_message("Everyone")
            await owner.press(lambda b: b.text.startswith("🚀 Send to 13"))
            progress = await owner.wait_message("sending", timeout=10)
            await tg.wait_for(lambda: _at_least(tg, 4), timeout=15)
        sent_before_restart = await broadcast_sent(app)
        assert 4 <= sent_before_restart < 13

        # 5. A new process resumes without resending; the same message reaches the end.
        async with polling_app(database_url, tg, **settings) as app:
            done = await tg.wait_for(lambda: _done(tg, progress.message_id), timeout=30)
            assert done is not None, tg.describe_chat(ADMIN_ID)
            assert "Sent: 13 · Blocked: 0 · Failed: 0 · Left: 0 of 13" in done.text
            for user_id in [ALICE, BOB, ADMIN_ID, *OTHERS]:
                got = [m for m in tg.history(user_id) if "Weekend sale" in m.text]
                # The owner also got the preview.
                assert len(got) == (2 if user_id == ADMIN_ID else 1), user_id

            # 6. /stats is a chart with the summary as its caption.
            await owner.send("/stats")
            chart = await owner.wait_message(lambda m: m.kind == "photo", timeout=30)
            assert "Panel statistics" in chart.text
        assert await balance(app.sessionmaker, ALICE) == Decimal(7)
        assert await balance(app.sessionmaker, BOB) == Decimal(80)


def _at_least(tg: FakeTelegram, count: int) -> bool:
    sent = [c for c in tg.calls_of("sendMessage") if c.ok and "Weekend sale" in c.params["text"]]
    return len(sent) >= count


def _done(tg: FakeTelegram, message_id: int):  # type: ignore[no-untyped-def]
    message = tg.find_message(ADMIN_ID, message_id)
    return message if message is not None and "done" in message.text else None
