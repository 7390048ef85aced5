"""A support ticket round trip over the fake Bot API: the customer's question reaches the
admins as a ticket, the owner's reply to it reaches the customer, the ticket closes."""

from __future__ import annotations

from sqlalchemy import select

from db.models import SupportMessage, SupportTicket
from tests.fakes.telegram_server import FakeTelegram
from tests.harness.e2e import polling_app
from tests.harness.settings import ADMIN_ID

ALICE = 1001


async def test_ticket_round_trip_over_the_bot_api(database_url: str) -> None:
    async with FakeTelegram() as tg:
        async with polling_app(database_url, tg) as app:
            owner, alice = tg.user(ADMIN_ID, "Owner"), tg.user(ALICE, "Alice", username="al")
            await alice.send("/start")
            await alice.press("💬 Support")
            await alice.wait_message("Write your question")
            await alice.send("Where is my order? <b>help</b>")
            opened = await alice.wait_message("Ticket #")
            assert "opened" in opened.text

            # The admins get the ticket through the outbox: who, recent orders, the text.
            ticket = await owner.wait_message("New ticket #", timeout=10)
            assert "Alice (@al), id 1001" in ticket.text
            assert "Where is my order? <b>help</b>" in ticket.text  # escaped, shown as is
            assert "No orders yet" in ticket.text
            assert any("Close" in label for label in ticket.button_texts)

            # A plain message (not a reply) reaches nobody.
            await owner.send("hello everyone")
            await owner.wait_message("Nothing found")

            # The owner replies to the ticket: Alice gets it, with a button to answer back.
            await owner.reply(ticket, "It ships today & tomorrow")
            await owner.wait_message("Sent to the customer (ticket #")
            answer = await alice.wait_message("Support", timeout=10)
            assert "It ships today & tomorrow" in answer.text
            await alice.press("💬 Reply", answer)
            await alice.wait_message("Write your question")
            await alice.send("Thanks!")
            assert "Added to your ticket" in (await alice.wait_message("ticket #")).text
            follow_up = await owner.wait_message("Ticket #", timeout=10)
            assert "New ticket" not in follow_up.text and "Thanks!" in follow_up.text

            # /tickets lists it; Close closes it once and tells Alice.
            await owner.send("/tickets")
            listing = await owner.wait_message("Open tickets")
            assert "Alice" in listing.text
            await owner.press(lambda b: "Close" in b.text, follow_up)
            await owner.wait_message("closed; the customer was told")
            await alice.wait_message("is closed", timeout=10)
            await owner.reply(ticket, "one more thing")
            assert "is closed" in (await owner.wait_message("closed")).text
        async with app.sessionmaker() as session:
            [row] = (await session.scalars(select(SupportTicket))).all()
            assert row.status == "closed" and row.closed_by == ADMIN_ID
            texts = (await session.scalars(select(SupportMessage.text))).all()
            assert texts == [
                "Where is my order? <b>help</b>",
                "It ships today & tomorrow",
                "Thanks!",
            ]
