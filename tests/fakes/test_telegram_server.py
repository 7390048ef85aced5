"""The fake Bot API server, proven with a real aiogram Bot and Dispatcher over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router, html
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    LabeledPrice,
    Message,
    PreCheckoutQuery,
)
from aiogram.utils.keyboard import InlineKeyboardBuilder

from tests.fakes.telegram_server import CHAT_NOT_FOUND, FakeTelegram, run_polling

ALICE = 1001


def create_router(seen: list[object]) -> Router:
    """A tiny top-up flow: /start -> button -> amounts -> Stars invoice -> credited."""
    router = Router()

    @router.message(CommandStart(deep_link=True))
    async def start_referred(message: Message, command: CommandObject) -> None:
        await message.answer(f"Referred by <code>{html.quote(command.args or '')}</code>")

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        assert message.from_user is not None
        keyboard = InlineKeyboardBuilder().button(text="💰 Top up", callback_data="topup")
        await message.answer(
            f"Welcome, <b>{html.quote(message.from_user.first_name)}</b>!",
            reply_markup=keyboard.as_markup(),
        )

    @router.callback_query(F.data == "topup")
    async def top_up(callback: CallbackQuery) -> None:
        keyboard = InlineKeyboardBuilder()
        for stars in (100, 500):
            keyboard.button(text=f"{stars} ⭐", callback_data=f"amount:{stars}")
        assert isinstance(callback.message, Message)
        await callback.message.edit_text("How many Stars?", reply_markup=keyboard.as_markup())
        await callback.answer("Choose an amount")

    @router.callback_query(F.data.startswith("amount:"))
    async def amount(callback: CallbackQuery) -> None:
        stars = int((callback.data or "").split(":")[1])
        assert isinstance(callback.message, Message)
        await callback.message.answer_invoice(
            title="Top up",
            description=f"{stars} Stars to your balance",
            payload=f"topup:{stars}",
            currency="XTR",
            prices=[LabeledPrice(label="Stars", amount=stars)],
        )
        await callback.answer()

    @router.pre_checkout_query()
    async def pre_checkout(query: PreCheckoutQuery) -> None:
        if query.invoice_payload == "topup:500":
            await query.answer(ok=False, error_message="Top-ups above 100 Stars are paused")
        else:
            await query.answer(ok=True)

    @router.message(F.successful_payment)
    async def paid(message: Message) -> None:
        assert message.successful_payment is not None
        seen.append(message.successful_payment)
        await message.answer(f"Credited {message.successful_payment.total_amount} Stars")

    @router.message(F.text)
    async def echo(message: Message) -> None:
        seen.append(message.text)
        await message.answer(f"You typed {html.quote(message.text or '')}")

    return router


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    bot = fake.create_bot(default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    yield bot
    await bot.session.close()


@pytest.fixture
async def seen(bot: Bot) -> AsyncIterator[list[object]]:
    """Polls the top-up router; yields what its handlers received."""
    seen: list[object] = []
    dp = Dispatcher()
    dp.include_router(create_router(seen))
    async with run_polling(dp, bot):
        yield seen


async def test_start_button_edit_and_callback_answer_end_to_end() -> None:
    started = time.monotonic()
    async with FakeTelegram() as fake:
        bot = fake.create_bot(default=DefaultBotProperties(parse_mode=ParseMode.HTML))
        dp = Dispatcher()
        dp.include_router(create_router([]))
        async with run_polling(dp, bot):
            alice = fake.user(ALICE, "Alice", username="alice")
            sent = await alice.send("/start")
            assert sent["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]

            welcome = await alice.wait_message()
            assert welcome.text == "Welcome, Alice!"  # HTML resolved, as the user reads it
            assert welcome.source == "Welcome, <b>Alice</b>!"
            assert welcome.buttons == [[("💰 Top up", "topup")]]
            assert welcome.raw["from"]["id"] == fake.bot_id
            assert welcome.raw["chat"] == {
                "id": ALICE,
                "type": "private",
                "first_name": "Alice",
                "username": "alice",
            }

            await alice.press("Top up")
            edited = await alice.wait_message()
            assert edited.was_edit
            assert edited.message_id == welcome.message_id
            assert edited.text == "How many Stars?"
            assert edited.buttons == [[("100 ⭐", "amount:100"), ("500 ⭐", "amount:500")]]
            answer = await alice.wait_for_callback_answer()
            assert answer["text"] == "Choose an amount"
            assert not answer.get("show_alert")
            assert [m.text for m in alice.messages] == ["How many Stars?"]
        await bot.session.close()
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    assert others == []
    assert time.monotonic() - started < 3


async def test_numeric_text_reaches_the_handler_as_a_string(
    fake: FakeTelegram, seen: list[object]
) -> None:
    alice = fake.user(ALICE)
    await alice.send("100")
    reply = await alice.wait_message()
    assert reply.text == "You typed 100"
    assert seen == ["100"]


async def test_start_with_a_deep_link_payload(fake: FakeTelegram, seen: list[object]) -> None:
    alice = fake.user(ALICE)
    await alice.send("/start ref_42")
    assert (await alice.wait_message()).text == "Referred by ref_42"


async def test_stars_invoice_paid_then_refunded_once(
    fake: FakeTelegram, bot: Bot, seen: list[object]
) -> None:
    alice = fake.user(ALICE)
    await alice.send("/start")
    await alice.press("Top up")
    await alice.press("100")
    invoice = await alice.wait_message(lambda m: m.kind == "invoice")
    assert invoice.raw["invoice"]["total_amount"] == 100
    assert invoice.invoice_payload == "topup:100"

    charge_id = await alice.pay()
    assert (await alice.wait_message()).text == "Credited 100 Stars"
    assert await bot.refund_star_payment(ALICE, charge_id) is True
    with pytest.raises(TelegramBadRequest, match="CHARGE_ALREADY_REFUNDED"):
        await bot.refund_star_payment(ALICE, charge_id)


async def test_a_declined_pre_checkout_stops_the_payment(
    fake: FakeTelegram, seen: list[object]
) -> None:
    alice = fake.user(ALICE)
    await alice.send("/start")
    await alice.press("Top up")
    await alice.press("500")
    await alice.wait_message(lambda m: m.kind == "invoice")
    with pytest.raises(AssertionError, match="above 100 Stars are paused"):
        await alice.pay()
    assert not [s for s in seen if not isinstance(s, str)]  # no successful_payment


async def test_updates_outside_allowed_updates_never_arrive(fake: FakeTelegram, bot: Bot) -> None:
    dp = Dispatcher()
    router = Router()
    router.message()(lambda message: None)  # messages only: no pre_checkout_query
    dp.include_router(router)
    async with run_polling(dp, bot):
        alice = fake.user(ALICE)
        await alice.pre_checkout("topup:100", 100)
        with pytest.raises(AssertionError, match="dropped by allowed_updates"):
            await alice.wait_pre_checkout_answer(timeout=0.3)
    assert [u["pre_checkout_query"]["invoice_payload"] for u in fake.filtered_updates] == [
        "topup:100"
    ]


async def test_injected_429_raises_retry_after_and_creates_no_message(
    fake: FakeTelegram, bot: Bot
) -> None:
    fake.fail_next("sendMessage", chat_id=ALICE, retry_after=3)
    await bot.send_message(2002, "another chat is not affected")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(ALICE, "hello")
    assert caught.value.retry_after == 3
    assert fake.messages(ALICE) == []
    refused = fake.calls_of("sendMessage", chat_id=ALICE)
    assert [(c.error_code, c.description) for c in refused] == [
        (429, "Too Many Requests: retry after 3")
    ]

    retried = await bot.send_message(ALICE, "hello")
    assert retried.message_id == 1
    assert [m.text for m in fake.messages(ALICE)] == ["hello"]


async def test_a_blocked_chat_is_forbidden_until_unblocked(fake: FakeTelegram, bot: Bot) -> None:
    fake.block(ALICE)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(ALICE, "news")
    with pytest.raises(TelegramForbiddenError):
        await bot.send_message(ALICE, "more news")
    fake.block(2002, 400, CHAT_NOT_FOUND)
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(2002, "news")

    fake.unblock(ALICE)
    await bot.send_message(ALICE, "welcome back")
    assert [m.text for m in fake.messages(ALICE)] == ["welcome back"]


async def test_telegram_strictness_html_edits_and_callback_answers(
    fake: FakeTelegram, bot: Bot
) -> None:
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(ALICE, "Price < 5 Stars")
    sent = await bot.send_message(ALICE, html.quote("Price < 5 Stars"))
    assert sent.text == "Price < 5 Stars"

    keyboard = InlineKeyboardBuilder().button(text="Buy", callback_data="buy").as_markup()
    await bot.edit_message_text(
        "Pick one", chat_id=ALICE, message_id=sent.message_id, reply_markup=keyboard
    )
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "Pick one", chat_id=ALICE, message_id=sent.message_id, reply_markup=keyboard
        )
    await bot.edit_message_text("Sold out", chat_id=ALICE, message_id=sent.message_id)
    assert [(m.text, m.buttons) for m in fake.messages(ALICE)] == [("Sold out", [])]
    assert [m.text for m in fake.history(ALICE)] == ["Price < 5 Stars", "Pick one", "Sold out"]

    query = await fake.user(ALICE).press_data("buy", sent.message_id)
    assert await bot.answer_callback_query(query["id"], text="Done") is True
    with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
        await bot.answer_callback_query(query["id"], text="Done again")


async def test_send_photo_accepts_a_multipart_upload(fake: FakeTelegram, bot: Bot) -> None:
    png = b"\x89PNG\r\n\x1a\n orders per day"
    sent = await bot.send_photo(
        ALICE, BufferedInputFile(png, "chart.png"), caption="Orders <b>per day</b>"
    )
    assert sent.photo is not None
    assert sent.photo[-1].file_size == len(png)
    assert sent.caption == "Orders per day"
    [shown] = fake.messages(ALICE)
    assert shown.kind == "photo"
    assert shown.file.data == png


async def test_wire_format_over_raw_http(fake: FakeTelegram) -> None:
    api = f"{fake.base_url}/bot{fake.token}"
    markup = {"inline_keyboard": [[{"text": "Open", "callback_data": "42"}]]}
    async with aiohttp.ClientSession() as http:
        form = {"chat_id": "7", "text": "100", "reply_markup": json.dumps(markup)}
        async with http.post(f"{api}/sendMessage", data=form) as response:
            body = await response.json()
        assert body["ok"] is True
        message = body["result"]
        assert message["text"] == "100"
        assert fake.calls_of("sendMessage")[0].params == {
            "chat_id": 7,
            "text": "100",
            "reply_markup": markup,
        }
        assert message["reply_markup"] == markup
        assert message["chat"]["id"] == 7
        assert abs(message["date"] - time.time()) < 5

        async with http.post(f"{api}/sendMessage", json={"chat_id": 7, "text": "200"}) as response:
            assert (await response.json())["result"]["message_id"] == message["message_id"] + 1

        async with http.get(f"{api}/getMe") as response:
            me = (await response.json())["result"]
        assert (me["id"], me["is_bot"], me["username"]) == (123456, True, "test_smm_bot")

        async with http.post(f"{fake.base_url}/bot1:WRONG/getMe") as response:
            assert response.status == 401
            assert await response.json() == {
                "ok": False,
                "error_code": 401,
                "description": "Unauthorized",
            }

        async with http.post(f"{api}/sendCarrierPigeon", data={"chat_id": "7"}) as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found: method not found",
            }
        await fake.user(ALICE).send("sent while the bot was down")
        async with http.post(f"{api}/deleteWebhook", data={"drop_pending_updates": "true"}):
            pass
        async with http.post(f"{api}/getUpdates") as response:
            assert (await response.json())["result"] == []
    assert [c.error_code for c in fake.calls_of("sendCarrierPigeon")] == [404]


async def test_get_updates_is_a_long_poll_released_on_stop() -> None:
    fake = await FakeTelegram().start()
    try:
        api = f"{fake.base_url}/bot{fake.token}/getUpdates"
        async with aiohttp.ClientSession() as http:

            async def get_updates(**params: int) -> list[dict[str, object]]:
                async with http.post(api, data={k: str(v) for k, v in params.items()}) as response:
                    return (await response.json())["result"]

            waiting = asyncio.create_task(get_updates(timeout=5))
            await fake.wait_polling()
            sent_at = time.monotonic()
            first = await fake.user(ALICE).send("hi")
            second = await fake.user(2002, "Bob").send("hey")
            updates = await waiting
            assert time.monotonic() - sent_at < 1
            assert [u["message"]["text"] for u in updates] == ["hi", "hey"]
            assert updates[0]["message"] == first
            ids = [u["update_id"] for u in updates]
            assert ids[1] == ids[0] + 1
            assert second["chat"]["first_name"] == "Bob"

            assert [u["update_id"] for u in await get_updates(offset=ids[1], limit=1)] == [ids[1]]
            assert await get_updates(offset=ids[1] + 1) == []

            waiting = asyncio.create_task(get_updates(offset=ids[1] + 1, timeout=30))
            await fake.wait_call("getUpdates", count=4)
            stop_at = time.monotonic()
            await fake.stop()
            assert await waiting == []
            assert time.monotonic() - stop_at < 1.5
    finally:
        await fake.stop()


async def test_a_second_poller_terminates_the_first(fake: FakeTelegram) -> None:
    api = f"{fake.base_url}/bot{fake.token}/getUpdates"
    async with aiohttp.ClientSession() as http:
        first = asyncio.create_task(http.post(api, data={"timeout": "5"}))
        await fake.wait_polling()
        async with http.post(api, data={"timeout": "0"}) as response:
            assert response.status == 200
        async with await first as response:
            assert response.status == 409
            assert (
                "terminated by other getUpdates request" in (await response.json())["description"]
            )


async def test_failed_expectations_explain_what_the_chat_shows(
    fake: FakeTelegram, seen: list[object]
) -> None:
    alice = fake.user(ALICE)
    await alice.send("/start")
    await alice.wait_message()
    with pytest.raises(AssertionError, match="Top up") as no_button:
        await alice.press("Withdraw", timeout=0.2)
    assert "Withdraw" in str(no_button.value)
    with pytest.raises(AssertionError, match="Welcome, Alice!"):
        await alice.wait_message("Goodbye", timeout=0.2)


async def test_a_bot_in_a_subprocess_polls_the_fake(fake: FakeTelegram) -> None:
    # A stdlib client keeps this fast: importing aiogram in a child takes seconds.
    script = """
import json, os, urllib.parse, urllib.request

api = os.environ["TELEGRAM_API_URL"] + "/bot" + os.environ["BOT_TOKEN"] + "/"

def call(method, **params):
    body = urllib.parse.urlencode(params).encode()
    with urllib.request.urlopen(api + method, data=body, timeout=10) as response:
        return json.load(response)["result"]

call("deleteWebhook", drop_pending_updates="true")
offset = 0
while True:
    for update in call("getUpdates", offset=offset, timeout=1):
        offset = update["update_id"] + 1
        message = update["message"]
        call("sendMessage", chat_id=message["chat"]["id"], text="echo: " + message["text"])
"""
    env = os.environ | {"TELEGRAM_API_URL": fake.base_url, "BOT_TOKEN": fake.token}
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", script, env=env)
    try:
        await fake.wait_polling()
        alice = fake.user(ALICE)
        await alice.send("100")
        assert (await alice.wait_message()).text == "echo: 100"
        assert fake.calls_of("deleteWebhook")[0].params == {"drop_pending_updates": True}
    finally:
        process.terminate()
        await process.wait()
