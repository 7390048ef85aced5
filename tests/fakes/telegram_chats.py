"""What the bot sends through the fake Bot API (telegram_server.py): each chat's messages as
the user reads them, edits and deletions, answers to callback and pre-checkout queries, and
the Stars charges a refund looks up.

As in Telegram: malformed HTML is a 400 "can't parse entities", editing to identical content
is "message is not modified", an edit without reply_markup drops the keyboard, and a query can
be answered once.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from tests.fakes.telegram_user import BotMessage, buttons_of
from tests.fakes.telegram_wire import (
    NOT_MODIFIED,
    ApiError,
    Upload,
    _chat_id,
    _inline_keyboard,
    _visible,
    api,
)

if TYPE_CHECKING:
    from tests.fakes.telegram_user import FakeUser


@dataclass
class Charge:
    user_id: int
    total_amount: int
    payload: str
    refunded: bool = False


@dataclass
class _Chat:
    next_message_id: int = 1
    current: dict[int, BotMessage] = field(default_factory=dict)  # the bot's, by id
    history: list[BotMessage] = field(default_factory=list)  # every send and edit
    user_message_ids: set[int] = field(default_factory=set)


class ChatMethods:
    """The FakeTelegram side that keeps chats, queries and Stars charges."""

    bot_user: dict[str, Any]
    _users: dict[int, FakeUser]
    _notify: Callable[[], None]

    def __init__(self) -> None:
        super().__init__()
        self.callback_answers: dict[str, dict[str, Any]] = {}  # query id -> params
        self.pre_checkout_answers: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, Charge] = {}
        self._chats: dict[int, _Chat] = {}
        self._open_queries: set[str] = set()
        self._ids = itertools.count(1)

    def history(self, chat_id: int) -> list[BotMessage]:
        """Every send and edit the bot made in the chat, in order (a live list)."""
        return self._chat(chat_id).history

    def messages(self, chat_id: int) -> list[BotMessage]:
        """The bot's messages in the chat as they read now, deleted ones left out."""
        return [m for m in self._chat(chat_id).current.values() if not m.deleted]

    def find_message(self, chat_id: int, message_id: int) -> BotMessage | None:
        return self._chat(chat_id).current.get(message_id)

    # --- used by FakeUser ---------------------------------------------------------------

    def new_message_id(self, chat_id: int, *, by_user: bool = False) -> int:
        chat = self._chat(chat_id)
        message_id = chat.next_message_id
        chat.next_message_id += 1
        if by_user:
            chat.user_message_ids.add(message_id)
        return message_id

    def unique_id(self, prefix: str = "") -> str:
        return f"{prefix}{next(self._ids)}"

    def open_query(self) -> str:
        """A callback or pre-checkout query id the bot may answer once."""
        query_id = self.unique_id("q")
        self._open_queries.add(query_id)
        return query_id

    def record_charge(self, charge_id: str, user_id: int, total_amount: int, payload: str) -> None:
        self.charges[charge_id] = Charge(user_id, total_amount, payload)

    # --- sending ------------------------------------------------------------------------

    @api("sendMessage")
    async def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = _chat_id(params)
        text = _visible(params, "text")
        return self._post(chat_id, params, {"text": text}, text=text, source=params["text"])

    @api("sendPhoto")
    async def _send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = _chat_id(params)
        file = params.get("photo")
        if not file:
            raise ApiError(400, "Bad Request: there is no photo in the request")
        file_id = self.unique_id("photo-")
        size: dict[str, Any] = {"file_id": file_id, "file_unique_id": f"u{file_id}"}
        if isinstance(file, Upload):
            size |= {"file_size": len(file.data)}
        content: dict[str, Any] = {"photo": [size | {"width": 800, "height": 600}]}
        caption = _visible(params, "caption") if params.get("caption") else ""
        if caption:
            content["caption"] = caption
        return self._post(
            chat_id,
            params,
            content,
            text=caption,
            source=params.get("caption"),
            kind="photo",
            file=file,
        )

    @api("sendInvoice")
    async def _send_invoice(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = _chat_id(params)
        invoice = {
            "title": params.get("title", ""),
            "description": params.get("description", ""),
            "start_parameter": params.get("start_parameter", ""),
            "currency": params.get("currency", ""),
            "total_amount": sum(int(price["amount"]) for price in params.get("prices") or []),
        }
        return self._post(
            chat_id,
            params,
            {"invoice": invoice},
            text=invoice["description"],
            source=None,
            kind="invoice",
            invoice_payload=params.get("payload"),
        )

    def _post(
        self,
        chat_id: int,
        params: dict[str, Any],
        content: dict[str, Any],
        *,
        text: str,
        source: str | None,
        kind: str = "text",
        **extra: Any,
    ) -> dict[str, Any]:
        markup = params.get("reply_markup")
        if not isinstance(markup, dict):
            markup = None
        inline = _inline_keyboard(markup)
        raw = {
            "message_id": self.new_message_id(chat_id),
            "date": int(time.time()),
            "chat": self._chat_object(chat_id),
            "from": self.bot_user,
            **content,
        }
        if inline:
            raw["reply_markup"] = inline
        message = BotMessage(
            chat_id,
            raw["message_id"],
            text,
            buttons_of(inline),
            source=source,
            kind=kind,
            reply_markup=markup,
            raw=raw,
            **extra,
        )
        self._record(message)
        return raw

    # --- editing and deleting -----------------------------------------------------------

    @api("editMessageText")
    async def _edit_text(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        if "inline_message_id" in params:
            return True
        message = self._own_message(params, "Bad Request: message to edit not found")
        if message.kind != "text":
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text = _visible(params, "text")
        return self._edit(message, params, {"text": text}, text=text, source=params["text"])

    @api("editMessageCaption")
    async def _edit_caption(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        if "inline_message_id" in params:
            return True
        message = self._own_message(params, "Bad Request: message to edit not found")
        if message.kind != "photo":
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption = _visible(params, "caption") if params.get("caption") else ""
        return self._edit(
            message, params, {"caption": caption}, text=caption, source=params.get("caption")
        )

    @api("editMessageReplyMarkup")
    async def _edit_reply_markup(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        if "inline_message_id" in params:
            return True
        message = self._own_message(params, "Bad Request: message to edit not found")
        return self._edit(message, params, {}, text=message.text, source=message.source)

    def _edit(
        self,
        message: BotMessage,
        params: dict[str, Any],
        content: dict[str, Any],
        *,
        text: str,
        source: str | None,
    ) -> dict[str, Any]:
        # No reply_markup in an edit removes the inline keyboard, as in Telegram.
        inline = _inline_keyboard(params.get("reply_markup"))
        if (text, source, inline) == (
            message.text,
            message.source,
            message.raw.get("reply_markup"),
        ):
            raise ApiError(400, NOT_MODIFIED)
        raw = {key: value for key, value in message.raw.items() if key != "reply_markup"}
        raw |= content | {"edit_date": int(time.time())}
        if inline:
            raw["reply_markup"] = inline
        edited = replace(
            message,
            text=text,
            source=source,
            buttons=buttons_of(inline),
            was_edit=True,
            reply_markup=inline,
            raw=raw,
        )
        self._record(edited)
        return raw

    @api("deleteMessage")
    async def _delete_message(self, params: dict[str, Any]) -> bool:
        chat = self._chat(_chat_id(params))
        message_id = params.get("message_id")
        message = chat.current.get(message_id)
        if message is not None and not message.deleted:
            chat.current[message_id] = replace(message, deleted=True)
        elif message_id in chat.user_message_ids:
            chat.user_message_ids.discard(message_id)
        else:
            raise ApiError(400, "Bad Request: message to delete not found")
        self._notify()
        return True

    def _own_message(self, params: dict[str, Any], missing: str) -> BotMessage:
        message = self._chat(_chat_id(params)).current.get(params.get("message_id"))
        if message is None or message.deleted:
            raise ApiError(400, missing)
        return message

    def _record(self, message: BotMessage) -> None:
        chat = self._chat(message.chat_id)
        chat.current[message.message_id] = message
        chat.history.append(message)
        self._notify()

    def _chat(self, chat_id: int) -> _Chat:
        return self._chats.setdefault(chat_id, _Chat())

    def _chat_object(self, chat_id: int) -> dict[str, Any]:
        if chat_id in self._users:
            return self._users[chat_id].as_chat
        return {"id": chat_id, "type": "private", "first_name": f"User {chat_id}"}

    # --- queries and payments -----------------------------------------------------------

    @api("answerCallbackQuery")
    async def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query_id = self._close_query(
            params,
            "callback_query_id",
            "Bad Request: query is too old and response timeout expired or query ID is invalid",
        )
        self.callback_answers[query_id] = params
        return True

    @api("answerPreCheckoutQuery")
    async def _answer_pre_checkout_query(self, params: dict[str, Any]) -> bool:
        if not params.get("ok") and not params.get("error_message"):
            raise ApiError(400, "Bad Request: error_message is required when ok is false")
        query_id = self._close_query(
            params, "pre_checkout_query_id", "Bad Request: QUERY_ID_INVALID"
        )
        self.pre_checkout_answers[query_id] = params
        return True

    def _close_query(self, params: dict[str, Any], key: str, invalid: str) -> str:
        query_id = params.get(key)
        if query_id not in self._open_queries:
            raise ApiError(400, invalid)
        self._open_queries.discard(query_id)
        return query_id

    @api("refundStarPayment")
    async def _refund_star_payment(self, params: dict[str, Any]) -> bool:
        charge = self.charges.get(params.get("telegram_payment_charge_id", ""))
        if charge is None or charge.user_id != params.get("user_id"):
            raise ApiError(400, "Bad Request: CHARGE_NOT_FOUND")
        if charge.refunded:
            raise ApiError(400, "Bad Request: CHARGE_ALREADY_REFUNDED")
        charge.refunded = True
        return True
