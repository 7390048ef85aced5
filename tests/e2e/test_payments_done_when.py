"""Issue "customers top up by themselves", done when: a Russian-speaking customer tops up
with Stars and another with Crypto Pay found by polling, then each places an order, without
meeting an English word; every duplicate delivery credits nothing.

The real app polls the fake Bot API over HTTP; orders go to a fake SMM provider and
invoices to a fake Crypto Pay server, both over HTTP; a real SQLite file."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bot.app import App
from db.engine import write_tx
from db.models import LedgerEntry, Service
from scheduler.payments import poll_crypto_invoices
from tests.fakes.cryptopay_server import FakeCryptoPay
from tests.fakes.provider_server import FakeProvider
from tests.fakes.telegram_server import FakeTelegram, run_polling
from tests.fakes.telegram_user import BotMessage, FakeUser
from tests.harness import seed
from tests.harness.e2e import app_on
from tests.harness.ledger import balance
from tests.harness.order_seed import orders_of

IVAN, OLGA = 2001, 2002
PROVIDER_KEY = "done-when-key"
CRYPTO_TOKEN = "4321:AAdoneWhenToken"
SERVICE = "Подписчики Instagram"
# Names, not words: brands, currencies and tickers a Russian customer reads as they are.
NAMES = {"Instagram", "Telegram", "CryptoBot", "USD", "USDT", "TON", "BTC", "XTR"}
# Links, domains ("instagram.com/…"), @usernames and tags are addresses, not words.
URL = re.compile(r"(https?://|tg://)\S+|\b[\w-]+\.(com|org|me|ru|tg)\S*|@\w+|<[^>]+>")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def english_words(text: str) -> set[str]:
    return set(LATIN_WORD.findall(URL.sub(" ", text))) - NAMES


def everything_seen(user: FakeUser) -> list[str]:
    """Every text, edit, button and invoice the customer was shown."""
    seen = []
    for message in user.fake.history(user.chat_id):
        seen.append(message.text)
        seen += message.button_texts
        invoice = message.raw.get("invoice")
        if invoice:
            seen += [invoice["title"], invoice["description"]]
    return seen


def assert_all_russian(user: FakeUser) -> None:
    found = {text: english_words(text) for text in everything_seen(user)}
    assert {t: w for t, w in found.items() if w} == {}


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[tuple[App, FakeTelegram, FakeCryptoPay]]:
    async with (
        FakeTelegram() as tg,
        FakeProvider(api_key=PROVIDER_KEY) as provider,
        FakeCryptoPay(token=CRYPTO_TOKEN) as cp,
        app_on(
            database_url,
            tg,
            crypto_pay_token=CRYPTO_TOKEN,
            crypto_pay_api_url=cp.url,
            crypto_pay_poll_seconds=1,
        ) as app,
    ):
        async with app.sessionmaker() as session, write_tx(session):
            _, service = await seed.provider_catalog(session, provider.url, PROVIDER_KEY)
            (await session.get(Service, service.id)).name = SERVICE  # type: ignore[union-attr]
        async with run_polling(app.dp, app.bot):
            yield app, tg, cp


def ru(app: App, text: str) -> str:
    return app.i18n.gettext(text, locale="ru")


def has_button(label: str):
    def check(message: BotMessage) -> bool:
        return label in message.button_texts

    check.__name__ = f"has_button({label!r})"
    return check


async def top_up_screen(app: App, user: FakeUser) -> None:
    await user.send("/start")
    await user.wait_message(has_button(ru(app, "💰 Balance")))
    await user.press(ru(app, "💰 Balance"))
    await user.wait_message(has_button(ru(app, "➕ Top up")))
    await user.press(ru(app, "➕ Top up"))
    await user.wait_message(has_button(ru(app, "⭐ Telegram Stars")))


async def place_order(app: App, user: FakeUser) -> BotMessage:
    await user.press(ru(app, "🛒 New order"))
    await user.wait_message(lambda m: any("Instagram" in b for b in m.button_texts))
    await user.press(lambda b: b.text.startswith("Instagram"))
    await user.wait_message(lambda m: any(SERVICE in b for b in m.button_texts))
    await user.press(lambda b: SERVICE in b.text)
    await user.wait_message(lambda m: SERVICE in m.text)
    await user.send(f"https://instagram.com/shop{user.id}")
    await user.wait_message(lambda m: not m.was_edit and "?" in m.text)  # how many?
    await user.send("1000")
    await user.wait_message(has_button(ru(app, "✅ Confirm")))
    await user.press(ru(app, "✅ Confirm"))
    placed = await user.wait_message(lambda m: m.was_edit and "#" in m.text)  # at once: queued
    # The provider's answer edits that same confirmation.
    return await user.wait_message(
        lambda m: m.was_edit and m.message_id == placed.message_id and m.text != placed.text
    )


async def payments_in_ledger(app: App) -> int:
    async with app.sessionmaker() as session:
        return await session.scalar(select(func.count()).where(LedgerEntry.kind == "payment")) or 0


async def test_two_russian_customers_top_up_and_order_without_an_english_word(world) -> None:
    app, tg, cp = world
    ivan = tg.user(IVAN, "Иван", language_code="ru")
    olga = tg.user(OLGA, "Ольга", language_code="ru")

    # Ivan: Telegram Stars, 10 USD
    await top_up_screen(app, ivan)
    await ivan.press(ru(app, "⭐ Telegram Stars"))
    await ivan.wait_message(has_button("10.00 USD · 750 ⭐"))
    await ivan.press("10.00 USD · 750 ⭐")
    invoice = await ivan.wait_message(lambda m: m.kind == "invoice")
    charge = await ivan.pay(invoice)
    await ivan.wait_message(lambda m: "10.00 USD" in m.text and "✅" in m.text)
    # the same successful_payment delivered again: nothing
    await ivan.successful_payment(invoice.invoice_payload or "", 750, charge_id=charge)

    # Olga: Crypto Pay, 25 USD, found by the scheduler's poll of getInvoices
    await top_up_screen(app, olga)
    await olga.press(ru(app, "💎 Crypto (@CryptoBot)"))
    await olga.wait_message(has_button("25.00 USD"))
    await olga.press("25.00 USD")
    await olga.wait_message(lambda m: m.was_edit and bool(m.buttons))
    [remote] = cp.invoices.values()
    cp.pay(remote["invoice_id"])
    await olga.wait_message(lambda m: "25.00 USD" in m.text and "✅" in m.text, timeout=10)
    # the poll finds it again, and again: nothing
    assert app.crypto_pay is not None
    for _ in range(2):
        report = await poll_crypto_invoices(
            app.sessionmaker, app.crypto_pay, currency="USD", admin_ids=frozenset()
        )
        assert report.credited == 0

    await asyncio.sleep(1.5)  # anything the outbox would still send, it has sent
    assert await balance(app.sessionmaker, IVAN) == Decimal("10")
    assert await balance(app.sessionmaker, OLGA) == Decimal("25")
    assert await payments_in_ledger(app) == 2

    # each places an order with the money
    for user in (ivan, olga):
        await user.send("/start")
        await user.wait_message(has_button(ru(app, "🛒 New order")))
        done = await place_order(app, user)
        [order] = await orders_of(app.sessionmaker, user.id)
        assert f"#{order.id}" in done.text and order.status == "pending"
    assert await balance(app.sessionmaker, IVAN) == Decimal("8")
    assert await balance(app.sessionmaker, OLGA) == Decimal("23")
    assert await payments_in_ledger(app) == 2

    for user in (ivan, olga):
        assert_all_russian(user)
