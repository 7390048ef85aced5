"""Prints, one JSON line each, how this process's aiogram validates the updates the panel
handles, serializes the methods it sends (as the Bot API session puts them on the wire) and
reads the answers. Run as ``python -m tests.bot.aiogram_roundtrip`` (types built lazily, as
in the bot) and after ``import aiogram`` (aiogram's own eager build): the lines must match.
"""

from __future__ import annotations

import json
from typing import Any

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.methods import (
    AnswerCallbackQuery,
    AnswerPreCheckoutQuery,
    EditMessageText,
    GetMe,
    RefundStarPayment,
    SendInvoice,
    SendMessage,
    SendPhoto,
    SetMyCommands,
    TelegramMethod,
)
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    LabeledPrice,
    LinkPreviewOptions,
    ReplyKeyboardMarkup,
    ReplyParameters,
    Update,
)

from bot import lean_aiogram

USER = {"id": 1001, "is_bot": False, "first_name": "Alice", "language_code": "ru"}
CHAT = {"id": 1001, "type": "private", "first_name": "Alice"}
BOT = {"id": 42, "is_bot": True, "first_name": "Panel", "username": "panel_bot"}
KEYBOARD = {"inline_keyboard": [[{"text": "Confirm", "callback_data": "ok:7:ab"}]]}
MESSAGE = {"message_id": 5, "date": 1_700_000_000, "chat": CHAT, "from": BOT, "text": "Total"}

UPDATES: list[dict[str, Any]] = [
    {
        "update_id": 1,
        "message": {
            "message_id": 1, "date": 1_700_000_000, "chat": CHAT, "from": USER,
            "text": "/start ref_77",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    },
    {
        "update_id": 2,
        "callback_query": {
            "id": "cq1", "from": USER, "chat_instance": "ci", "data": "ok:7:ab",
            "message": {**MESSAGE, "reply_markup": KEYBOARD},
        },
    },
    {
        "update_id": 3,
        "pre_checkout_query": {
            "id": "pc1", "from": USER, "currency": "XTR", "total_amount": 250,
            "invoice_payload": "topup:9",
        },
    },
    {
        "update_id": 4,
        "message": {
            "message_id": 2, "date": 1_700_000_001, "chat": CHAT, "from": USER,
            "successful_payment": {
                "currency": "XTR", "total_amount": 250, "invoice_payload": "topup:9",
                "telegram_payment_charge_id": "tg-1", "provider_payment_charge_id": "",
            },
        },
    },
    {
        "update_id": 5,
        "my_chat_member": {
            "chat": CHAT, "from": USER, "date": 1_700_000_002,
            "old_chat_member": {"status": "member", "user": BOT},
            "new_chat_member": {"status": "kicked", "user": BOT, "until_date": 0},
        },
    },
    {
        "update_id": 6,
        "message": {
            "message_id": 3, "date": 1_700_000_003, "chat": CHAT, "from": USER,
            "document": {"file_id": "f1", "file_unique_id": "u1", "file_name": "links.txt"},
            "caption": "mass order",
        },
    },
]  # fmt: skip


def methods() -> list[TelegramMethod[Any]]:
    return [
        SendMessage(
            chat_id=1001,
            text="<b>Total</b>: 2.00",
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text="Confirm", callback_data="ok:7")]]
            ),
            link_preview_options=LinkPreviewOptions(is_disabled=True),
            reply_parameters=ReplyParameters(message_id=1),
        ),
        SendMessage(
            chat_id=1001,
            text="Menu",
            reply_markup=ReplyKeyboardMarkup(
                keyboard=[[KeyboardButton(text="New order")]], resize_keyboard=True
            ),
        ),
        EditMessageText(chat_id=1001, message_id=5, text="Pending", reply_markup=None),
        AnswerCallbackQuery(callback_query_id="cq1", text="Stale button", show_alert=True),
        SendInvoice(
            chat_id=1001,
            title="Top-up",
            description="250 Stars",
            payload="topup:9",
            currency="XTR",
            prices=[LabeledPrice(label="Top-up", amount=250)],
        ),
        AnswerPreCheckoutQuery(pre_checkout_query_id="pc1", ok=True),
        RefundStarPayment(user_id=1001, telegram_payment_charge_id="tg-1"),
        SetMyCommands(commands=[BotCommand(command="start", description="Menu")]),
        SendPhoto(chat_id=1001, photo=BufferedInputFile(b"png", "stats.png"), caption="Stats"),
    ]


ANSWERS: list[tuple[TelegramMethod[Any], Any]] = [
    (GetMe(), BOT),
    (SendMessage(chat_id=1001, text="Total"), {**MESSAGE, "reply_markup": KEYBOARD}),
    (AnswerCallbackQuery(callback_query_id="cq1"), True),
    (SetMyCommands(commands=[]), True),
]


def main() -> None:
    print(json.dumps({"lazy": lean_aiogram.install()}))
    bot = Bot("42:TEST", default=DefaultBotProperties(parse_mode="HTML"))
    for data in UPDATES:
        update = Update.model_validate(data, context={"bot": bot})
        print(update.model_dump_json(exclude_unset=True))
    for method in methods():
        files: dict[str, Any] = {}
        wire = {
            key: bot.session.prepare_value(value, bot=bot, files=files)
            for key, value in method.model_dump(warnings=False).items()
        }
        for number, name in enumerate(files):  # the attach names are random
            wire = {k: v.replace(name, f"file{number}") if v else v for k, v in wire.items()}
        print(json.dumps([method.__api_method__, wire, len(files)]))
    for method, result in ANSWERS:
        content = json.dumps({"ok": True, "result": result})
        answer = bot.session.check_response(bot, method, 200, content)
        print(answer.model_dump_json(exclude_unset=True))


if __name__ == "__main__":
    main()
