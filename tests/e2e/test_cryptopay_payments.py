"""Crypto Pay end to end: the real app (fake Bot API over HTTP) with a fake Crypto Pay
server; paid invoices found by the scheduler's getInvoices poll and by the signed webhook,
whichever comes first, credited exactly once by invoice id."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.app import App
from bot.webhook import build_webhook_app
from core.payments import open_invoice, payload_of
from core.statuses import PaymentMethod
from db.models import Notification, Payment
from tests.fakes.cryptopay_server import FakeCryptoPay
from tests.fakes.telegram_server import FakeTelegram
from tests.fakes.telegram_user import BotMessage, FakeUser
from tests.harness.e2e import app_on, polling_app
from tests.harness.ledger import balance, give_money
from tests.harness.settings import ADMIN_ID

ALICE = 1001
TOKEN = "4321:AAfakeCryptoPayToken"


def crypto_settings(cp: FakeCryptoPay, **extra: object) -> dict[str, object]:
    return {
        "crypto_pay_token": TOKEN,
        "crypto_pay_api_url": cp.url,
        "crypto_pay_assets": "USDT,TON",
        "crypto_pay_poll_seconds": 1,
        **extra,
    }


def running(
    database_url: str, tg: FakeTelegram, cp: FakeCryptoPay, **extra: object
) -> AbstractAsyncContextManager[App]:
    return polling_app(database_url, tg, **crypto_settings(cp, **extra))


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def cp() -> AsyncIterator[FakeCryptoPay]:
    async with FakeCryptoPay(token=TOKEN, timeout_sleep=15) as fake:
        yield fake


async def ask_for_crypto_invoice(alice: FakeUser) -> BotMessage:
    await alice.send("/balance")
    await alice.press("➕ Top up")
    methods = await alice.wait_message("How would you like to pay?")
    assert methods.button_texts == ["⭐ Telegram Stars", "💎 Crypto (@CryptoBot)"]
    await alice.press("💎 Crypto (@CryptoBot)")
    await alice.wait_message("Choose an amount")
    await alice.press("10.00 USD")
    return await alice.wait_message(lambda m: m.was_edit and "Invoice for" in m.text)


def receipts(user: FakeUser) -> list[BotMessage]:
    return [m for m in user.messages if "Payment received" in m.text]


async def test_crypto_invoice_paid_is_found_by_polling_once(
    database_url: str, tg: FakeTelegram, cp: FakeCryptoPay
) -> None:
    async with running(database_url, tg, cp) as app:
        alice = tg.user(ALICE, "Alice")
        invoice = await ask_for_crypto_invoice(alice)
        assert "You pay 10.00 USD in USDT, TON through @CryptoBot" in invoice.text
        assert invoice.button_texts == ["💳 Pay 10.00 USD"]
        url = invoice.raw["reply_markup"]["inline_keyboard"][0][0]["url"]
        [created] = [r for r in cp.requests if r.method == "createInvoice"]
        assert created.params["fiat"] == "USD" and created.params["amount"] == "10.00"
        assert created.params["currency_type"] == "fiat"
        assert created.params["expires_in"] == 3600
        [remote] = cp.invoices.values()
        assert url == remote["bot_invoice_url"]

        cp.pay(remote["invoice_id"])
        receipt = await alice.wait_message("Payment received", timeout=10)
        assert "10.00 USD added to your balance" in receipt.text
        polls = cp.count("getInvoices")
        # two more poll runs see it paid (each asks by id and for the newest paid)
        assert await tg.wait_for(lambda: cp.count("getInvoices") >= polls + 4 or None, 10)
        await asyncio.sleep(1.2)
        assert len(receipts(alice)) == 1
        assert await balance(app.sessionmaker, ALICE) == Decimal("10")


async def test_invoice_paid_while_the_bot_is_down(
    database_url: str, tg: FakeTelegram, cp: FakeCryptoPay
) -> None:
    alice = tg.user(ALICE, "Alice")
    async with running(database_url, tg, cp):
        await ask_for_crypto_invoice(alice)
    [remote] = cp.invoices.values()
    cp.pay(remote["invoice_id"])
    async with running(database_url, tg, cp) as app:
        await alice.wait_message("Payment received", timeout=10)
        assert await balance(app.sessionmaker, ALICE) == Decimal("10")


async def test_unanswered_create_apologises_and_expired_invoice_is_told(
    database_url: str, tg: FakeTelegram, cp: FakeCryptoPay
) -> None:
    async with running(database_url, tg, cp) as app:
        alice = tg.user(ALICE, "Alice")
        cp.set_fault("createInvoice", "http_500")
        await alice.send("/balance")
        await alice.press("➕ Top up")
        await alice.press("💎 Crypto (@CryptoBot)")
        await alice.press("10.00 USD")
        await alice.wait_message(lambda m: m.was_edit and "not answering" in m.text)
        async with app.sessionmaker() as session:
            [failed] = await session.scalars(select(Payment))
            assert failed.status == "failed"

        await alice.press("➕ Top up")
        await alice.press("💎 Crypto (@CryptoBot)")
        await alice.press("10.00 USD")
        await alice.wait_message(lambda m: m.was_edit and "Invoice for" in m.text)
        [remote] = [i for i in cp.invoices.values()][-1:]
        cp.expire(remote["invoice_id"])
        told = await alice.wait_message("has expired unpaid", timeout=10)
        assert "10.00 USD" in told.text
        assert await balance(app.sessionmaker, ALICE) == 0


@asynccontextmanager
async def webhook_server(database_url: str, tg: FakeTelegram, cp: FakeCryptoPay):
    async with app_on(
        database_url,
        tg,
        webhook_url="https://panel.example",
        webhook_secret="s3cret-value",
        **crypto_settings(cp, crypto_pay_poll_seconds=3600),  # only the webhook this time
    ) as app:
        server = TestServer(build_webhook_app(app), host="127.0.0.1")
        await server.start_server()
        try:
            yield app, str(server.make_url("/cryptopay/webhook"))
        finally:
            await server.close()


async def new_crypto_invoice(app: App, cp: FakeCryptoPay) -> int:
    """An invoice as the top-up flow makes it (the chat part is covered above)."""
    assert app.crypto_pay is not None
    async with app.sessionmaker() as session:
        payment = await open_invoice(
            session,
            user_id=ALICE,
            chat_id=ALICE,
            method=PaymentMethod.CRYPTOPAY,
            amount=Decimal("25"),
            currency="USD",
            price=Decimal("25"),
            price_currency="USD",
            lifetime=timedelta(hours=1),
        )
    invoice = await app.crypto_pay.create_invoice(
        amount=Decimal("25.00"),
        fiat="USD",
        accepted_assets=["USDT"],
        description="top-up",
        payload=payload_of(payment),
        expires_in=3600,
    )
    return int(invoice.invoice_id)


async def test_webhook_with_good_bad_and_repeated_signatures(
    database_url: str, tg: FakeTelegram, cp: FakeCryptoPay, caplog: pytest.LogCaptureFixture
) -> None:
    async with webhook_server(database_url, tg, cp) as (app, url):
        await give_money(app.sessionmaker, ALICE, "1")
        invoice_id = await new_crypto_invoice(app, cp)
        cp.pay(invoice_id)
        with caplog.at_level(logging.WARNING):
            assert await cp.deliver_webhook(url, invoice_id, signature="bad") == 401
            assert await cp.deliver_webhook(url, invoice_id, signature="missing") == 401
        assert "bad signature" in caplog.text and TOKEN not in caplog.text
        assert await balance(app.sessionmaker, ALICE) == Decimal("1")

        body, _headers = cp.signed_update(invoice_id)
        assert await cp.deliver_webhook(url, invoice_id, body=body + b" ") == 401  # tampered
        assert await cp.deliver_webhook(url, invoice_id) == 200
        assert await balance(app.sessionmaker, ALICE) == Decimal("26")
        assert await cp.deliver_webhook(url, invoice_id) == 200  # Crypto Pay retries
        assert await cp.deliver_webhook(url, invoice_id) == 200
        assert await balance(app.sessionmaker, ALICE) == Decimal("26")

        foreign = cp.add_foreign_paid_invoice("7")
        assert await cp.deliver_webhook(url, foreign) == 200
        assert await cp.deliver_webhook(url, foreign) == 200
        async with app.sessionmaker() as session:
            kinds = [n.kind for n in await session.scalars(select(Notification))]
            alerts = [
                n.payload
                for n in await session.scalars(
                    select(Notification).where(Notification.chat_id == ADMIN_ID)
                )
            ]
        assert kinds.count("payment_received") == 1
        assert len(alerts) == 1 and alerts[0]["external_id"] == str(foreign)
        assert await balance(app.sessionmaker, ALICE) == Decimal("26")
