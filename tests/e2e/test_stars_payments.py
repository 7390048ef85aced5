"""Telegram Stars end to end: the real app polling the fake Bot API over HTTP, which sends
pre_checkout_query and successful_payment like Telegram (also twice, and late after a
restart). Money invariants hold: balance == sum of the ledger."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from tests.fakes.telegram_server import FakeTelegram
from tests.fakes.telegram_user import BotMessage, FakeUser
from tests.harness.e2e import polling_app
from tests.harness.ledger import balance
from tests.harness.settings import ADMIN_ID

ALICE = 1001


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


def receipts(user: FakeUser) -> list[BotMessage]:
    return [m for m in user.messages if "Payment received" in m.text]


async def quiet(seconds: float = 1.5) -> None:
    """Long enough for the outbox sender (every second) to have sent anything it would."""
    await asyncio.sleep(seconds)


async def buy_stars(alice: FakeUser, preset: str = "10.00 USD · 750 ⭐") -> BotMessage:
    await alice.send("/balance")
    await alice.wait_message("Balance: 0.00 USD")
    await alice.press("➕ Top up")
    await alice.wait_message("Choose an amount")
    await alice.press(preset)
    return await alice.wait_message(lambda m: m.kind == "invoice")


async def test_stars_top_up_credits_once_with_a_receipt(
    database_url: str, tg: FakeTelegram
) -> None:
    async with polling_app(database_url, tg) as app:
        alice = tg.user(ALICE, "Alice")
        invoice = await buy_stars(alice)
        [call] = tg.calls_of("sendInvoice")
        assert call.params["currency"] == "XTR" and not call.params.get("provider_token")
        assert [p["amount"] for p in call.params["prices"]] == [750]
        assert "You pay 750 ⭐ and get 10.00 USD on your balance" in invoice.text

        charge = await alice.pay(invoice)
        receipt = await alice.wait_message("Payment received")
        assert "10.00 USD added to your balance" in receipt.text
        assert "Balance: 10.00 USD" in receipt.text
        assert await balance(app.sessionmaker, ALICE) == Decimal("10")

        # Telegram delivers the same successful_payment again: nothing more
        await alice.successful_payment(invoice.invoice_payload or "", 750, charge_id=charge)
        await alice.send("/balance")
        shown = await alice.wait_message("Balance: 10.00 USD")
        assert shown.text.count("+10.00 USD Payment") == 1
        await quiet()
        assert len(receipts(alice)) == 1
        assert await balance(app.sessionmaker, ALICE) == Decimal("10")

        # paying the same invoice again is declined at pre-checkout
        await alice.pre_checkout(invoice.invoice_payload or "", 750)
        answer = await alice.wait_pre_checkout_answer()
        assert answer["ok"] is False and "already paid" in answer["error_message"]


async def test_other_amount_and_pre_checkout_refusals(database_url: str, tg: FakeTelegram) -> None:
    async with polling_app(
        database_url, tg, topup_min="2", topup_max="100", topup_presets="5"
    ) as app:
        alice = tg.user(ALICE, "Alice")
        await alice.send("/balance")
        await alice.press("➕ Top up")
        await alice.press("✏️ Other amount")
        await alice.wait_message("Send the amount in USD, from 2.00 to 100.00")
        for bad in ("abc", "1", "100.01", "5.555", "-3"):
            await alice.send(bad)
            await alice.wait_message("That is not an amount from 2.00 USD to 100.00 USD")
        await alice.send("12,5")
        invoice = await alice.wait_message(lambda m: m.kind == "invoice")
        assert invoice.raw["invoice"]["total_amount"] == 938  # 937.5 Stars, rounded up
        payload = invoice.invoice_payload or ""

        await alice.pre_checkout(payload, 100)  # an amount we never issued
        answer = await alice.wait_pre_checkout_answer()
        assert answer["ok"] is False and "differs" in answer["error_message"]
        bob = tg.user(1002, "Bob")
        await bob.pre_checkout(payload, 938)  # somebody else's invoice
        assert (await bob.wait_pre_checkout_answer())["ok"] is False
        await alice.pre_checkout("topup:forged", 938)
        assert (await alice.wait_pre_checkout_answer())["ok"] is False

        await alice.pay(invoice)
        await alice.wait_message("12.50 USD added to your balance")
        assert await balance(app.sessionmaker, ALICE) == Decimal("12.5")


async def test_payment_delivered_late_after_a_restart_credits_once(
    database_url: str, tg: FakeTelegram
) -> None:
    alice = tg.user(ALICE, "Alice")
    async with polling_app(database_url, tg):
        invoice = await buy_stars(alice)
        await alice.pre_checkout(invoice.invoice_payload or "", 750)
        assert (await alice.wait_pre_checkout_answer())["ok"] is True
    # the bot is down when Telegram reports the payment; it arrives at the next start
    paid = await alice.successful_payment(invoice.invoice_payload or "", 750)
    charge = paid["successful_payment"]["telegram_payment_charge_id"]
    async with polling_app(database_url, tg) as app:
        await alice.wait_message("Payment received")
        assert await balance(app.sessionmaker, ALICE) == Decimal("10")
    # ...and once more after another restart (a redelivery): nothing
    async with polling_app(database_url, tg) as app:
        await alice.successful_payment(invoice.invoice_payload or "", 750, charge_id=charge)
        await alice.send("/balance")
        await alice.wait_message("Balance: 10.00 USD")
        await quiet()
        assert len(receipts(alice)) == 1
        assert await balance(app.sessionmaker, ALICE) == Decimal("10")


async def test_payment_for_no_invoice_alerts_admins_and_credits_nothing(
    database_url: str, tg: FakeTelegram
) -> None:
    async with polling_app(database_url, tg) as app:
        admin = tg.user(ADMIN_ID, "Admin")
        alice = tg.user(ALICE, "Alice")
        await alice.successful_payment("topup:unknown1", 300, charge_id="stxLOST")
        await alice.wait_message("could not match it to an invoice")
        alert = await admin.wait_message("matches no invoice")
        assert "stxLOST" in alert.text and "300 XTR" in alert.text
        await alice.successful_payment("topup:unknown1", 300, charge_id="stxLOST")
        await alice.send("/balance")
        await alice.wait_message("Balance: 0.00 USD")
        await quiet()
        assert len([m for m in admin.messages if "matches no invoice" in m.text]) == 1
        # the admin can give those Stars back: nothing to debit
        await admin.send("/refundpayment stxLOST")
        await admin.wait_message("Refunded 300.00 ⭐ to user 1001; debited 0.00 USD")
        assert tg.charges["stxLOST"].refunded
        assert await balance(app.sessionmaker, ALICE) == 0


async def test_admin_refund_debits_once_and_never_what_was_spent_or_refused(
    database_url: str, tg: FakeTelegram
) -> None:
    async with polling_app(database_url, tg) as app:
        admin = tg.user(ADMIN_ID, "Admin")
        alice = tg.user(ALICE, "Alice")
        charge = await alice.pay(await buy_stars(alice))
        await alice.wait_message("Payment received")

        await admin.send("/payments")
        listing = await admin.wait_message("Recent payments")
        assert (
            "user 1001" in listing.text and "10.00 USD" in listing.text and charge in listing.text
        )
        await admin.send("/stats")
        stats = await admin.wait_message("Panel statistics")
        assert "Top-ups: 1 · 10.00 USD" in stats.text

        # the customer spent 6 of the 10: a refund would take money they no longer have
        await admin.send(f"/topup {ALICE} -6 spent")
        await admin.wait_message("6")
        await admin.send(f"/refundpayment {charge}")
        await admin.wait_message("already spent")
        assert tg.calls_of("refundStarPayment") == []
        await admin.send(f"/topup {ALICE} 6 back")
        await admin.wait_message("Credited")

        # Telegram refuses: nothing is debited
        tg.fail_next("refundStarPayment", error_code=400, description="Bad Request: REFUND_FAILED")
        await admin.send(f"/refundpayment {charge}")
        await admin.wait_message("Telegram refused the refund")
        assert await balance(app.sessionmaker, ALICE) == Decimal("10")

        await admin.send(f"/refundpayment {charge}")
        await admin.wait_message("debited 10.00 USD")
        assert tg.charges[charge].refunded
        assert await balance(app.sessionmaker, ALICE) == 0
        await admin.send(f"/refundpayment {charge}")  # again: refused, nothing more
        await admin.wait_message("already refunded")
        assert len(tg.calls_of("refundStarPayment")) == 2
        assert await balance(app.sessionmaker, ALICE) == 0
        await admin.send("/stats")
        assert "Payment refunds: 10.00 USD" in (await admin.wait_message("Panel statistics")).text


async def test_no_top_up_button_without_a_method(database_url: str, tg: FakeTelegram) -> None:
    async with polling_app(database_url, tg, stars_enabled=False):
        alice = tg.user(ALICE, "Alice")
        await alice.send("/balance")
        screen = await alice.wait_message("Balance: 0.00 USD")
        assert screen.button_texts == []


async def test_pay_support_shows_payments_and_reaches_the_admins(
    database_url: str, tg: FakeTelegram
) -> None:
    async with polling_app(database_url, tg):
        admin = tg.user(ADMIN_ID, "Admin")
        alice = tg.user(ALICE, "Alice", username="alice_shop")
        await alice.send("/paysupport")
        await alice.wait_message("You have no payments yet")
        charge = await alice.pay(await buy_stars(alice))
        await alice.send("/paysupport")
        listing = await alice.wait_message("Questions about a payment?")
        assert "⭐ Telegram Stars · 10.00 USD · paid" in listing.text and charge in listing.text
        await alice.send("/paysupport I paid <twice>?")
        await alice.wait_message("Sent to the admins")
        question = await admin.wait_message("Payment question")
        assert "user 1001 @alice_shop: I paid <twice>?" in question.text
        assert charge in question.text and "stars 10.00000000 USD paid" in question.text
