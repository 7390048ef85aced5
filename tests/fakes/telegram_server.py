"""A fake Telegram Bot API server over real HTTP, for end-to-end tests.

The bot under test talks to it exactly as to Telegram: in process with
`AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))` (or `fake.create_bot()`), or
as `python -m bot` with TELEGRAM_API_URL=fake.base_url and BOT_TOKEN=fake.token. Tests play
users through `fake.user(...)` (telegram_user.py), read each chat's history and `fake.calls`.

Some of Telegram's strictness is copied on purpose, because bots get it wrong: malformed HTML
is a 400 "can't parse entities", editing to identical content is "message is not modified",
editMessageText without reply_markup drops the keyboard, a callback query can be answered
once, updates outside allowed_updates are never delivered (see `filtered_updates`),
drop_pending_updates drops them, and only one getUpdates may be waiting at a time.
"""

# ruff: noqa: ASYNC109 - waits take a `timeout` argument, like the rest of the test helpers

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web

from tests.fakes.telegram_user import BotMessage, FakeUser, buttons_of
from tests.fakes.telegram_wire import (
    BLOCKED,
    CHAT_NOT_FOUND,
    DEACTIVATED,
    NOT_MODIFIED,
    ApiError,
    Upload,
    _chat_id,
    _inline_keyboard,
    _read_params,
    _visible,
    html_to_text,
)

T = TypeVar("T")
_Handler = TypeVar("_Handler", bound=Callable[..., Any])

_DEFAULT_DESCRIPTIONS = {
    400: CHAT_NOT_FOUND,
    403: BLOCKED,
    409: "Conflict: terminated by other getUpdates request",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
# Telegram's default when allowed_updates was never given or was an empty list.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_running: dict[str, FakeTelegram] = {}  # base_url -> server, for run_polling
_METHODS: dict[str, str] = {}  # Bot API method name, lower case -> FakeTelegram attribute


def _api(*names: str) -> Callable[[_Handler], _Handler]:
    """Register a FakeTelegram coroutine as the handler of these Bot API methods."""

    def register(handler: _Handler) -> _Handler:
        for name in names:
            _METHODS[name.lower()] = handler.__name__
        return handler

    return register


@dataclass
class Call:
    """One request the bot made; error_code/description are set when it was refused."""

    method: str
    params: dict[str, Any]
    at: float  # time.monotonic() on arrival
    error_code: int | None = None
    description: str | None = None
    result: Any = None

    @property
    def ok(self) -> bool:
        return self.error_code is None


@dataclass
class Charge:
    user_id: int
    total_amount: int
    payload: str
    refunded: bool = False


@dataclass
class _Fault:
    method: str  # lower case: Telegram method names are case-insensitive
    chat_id: int | None
    error: ApiError
    times: int


@dataclass
class _Chat:
    next_message_id: int = 1
    current: dict[int, BotMessage] = field(default_factory=dict)  # the bot's, by id
    history: list[BotMessage] = field(default_factory=list)  # every send and edit
    user_message_ids: set[int] = field(default_factory=set)


class FakeTelegram:
    def __init__(self, token: str = "123456:TEST", *, username: str = "test_smm_bot") -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_user = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Test SMM Bot",
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.base_url = ""
        self.calls: list[Call] = []
        self.filtered_updates: list[dict[str, Any]] = []  # dropped by allowed_updates
        self.callback_answers: dict[str, dict[str, Any]] = {}  # query id -> params
        self.pre_checkout_answers: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, Charge] = {}
        self.webhook_url = ""
        self.webhook_allowed_updates: list[str] | None = None
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._updates: list[dict[str, Any]] = []  # not yet confirmed by an offset
        self._update_ids = itertools.count(1)
        self._ids = itertools.count(1)
        self._allowed_updates: set[str] | None = None
        self._poll_generation = 0
        self._open_queries: set[str] = set()
        self._chats: dict[int, _Chat] = {}
        self._users: dict[int, FakeUser] = {}
        self._faults: list[_Fault] = []
        self._blocked: dict[int, ApiError] = {}
        self._changed = asyncio.Event()
        self._stopping = False
        self._runner: web.AppRunner | None = None

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> FakeTelegram:
        app = web.Application(client_max_size=50 * 2**20)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, sock).start()
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        _running[self.base_url] = self
        return self

    async def stop(self) -> None:
        self._stopping = True
        self._notify()  # waiting getUpdates return now instead of after their timeout
        _running.pop(self.base_url, None)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def create_bot(self, **bot_kwargs: Any) -> Bot:
        """An aiogram Bot in this process whose requests all go to this server."""
        session = AiohttpSession(api=TelegramAPIServer.from_base(self.base_url))
        return Bot(self.token, session=session, **bot_kwargs)

    # --- test controls ------------------------------------------------------------------

    def user(
        self,
        user_id: int = 1001,
        first_name: str = "Alice",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        is_premium: bool | None = None,
    ) -> FakeUser:
        user = FakeUser(
            self,
            user_id,
            first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            is_premium=is_premium,
        )
        self._users[user_id] = user
        return user

    def fail_next(
        self,
        method: str,
        chat_id: int | None = None,
        error_code: int = 429,
        description: str | None = None,
        retry_after: int = 2,
        times: int = 1,
    ) -> None:
        """Refuse the next `times` calls of `method` (to `chat_id`, if given) with an error.

        retry_after is sent only with 429; the description defaults to Telegram's usual one
        for the code ("Too Many Requests: retry after N", "Bad Request: chat not found", ...).
        """
        if error_code == 429:
            error = ApiError(
                429,
                description or f"Too Many Requests: retry after {retry_after}",
                retry_after=retry_after,
            )
        else:
            error = ApiError(error_code, description or _DEFAULT_DESCRIPTIONS.get(error_code, ""))
        self._faults.append(_Fault(method.lower(), chat_id, error, times))

    def block(self, chat_id: int, error_code: int = 403, description: str = BLOCKED) -> None:
        """Refuse every call aimed at this chat until unblock(), e.g. with DEACTIVATED or
        (400, CHAT_NOT_FOUND)."""
        self._blocked[chat_id] = ApiError(error_code, description)

    def unblock(self, chat_id: int) -> None:
        self._blocked.pop(chat_id, None)

    def calls_of(self, method: str, **params: Any) -> list[Call]:
        """Calls of `method` (case-insensitive) whose params include the given values."""
        return [
            call
            for call in self.calls
            if call.method.lower() == method.lower()
            and all(call.params.get(key) == value for key, value in params.items())
        ]

    async def wait_call(
        self, method: str, *, timeout: float = 5.0, count: int = 1, **params: Any
    ) -> Call:
        """The count-th call of `method` matching params, waiting for it if need be."""

        def nth() -> Call | None:
            matching = self.calls_of(method, **params)
            return matching[count - 1] if len(matching) >= count else None

        call = await self.wait_for(nth, timeout)
        if call is None:
            recent = "\n".join(f"  {_describe_call(c)}" for c in self.calls[-8:])
            raise AssertionError(
                f"expected {count} {method} call(s) matching {params} within {timeout}s, "
                f"got {len(self.calls_of(method, **params))}; recent calls:\n{recent}"
            )
        return call

    async def wait_polling(self, timeout: float = 10.0) -> Call:
        """Wait until the bot has asked for updates (e.g. a subprocess bot finished starting)."""
        return await self.wait_call("getUpdates", timeout=timeout)

    def history(self, chat_id: int) -> list[BotMessage]:
        """Every send and edit the bot made in the chat, in order (a live list)."""
        return self._chat(chat_id).history

    def messages(self, chat_id: int) -> list[BotMessage]:
        """The bot's messages in the chat as they read now, deleted ones left out."""
        return [m for m in self._chat(chat_id).current.values() if not m.deleted]

    def find_message(self, chat_id: int, message_id: int) -> BotMessage | None:
        return self._chat(chat_id).current.get(message_id)

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        return list(self._updates)

    def describe_chat(self, chat_id: int) -> str:
        """What a failed wait should show: the chat's last messages and why nothing came."""
        lines = [f"chat {chat_id}, the bot's latest sends and edits:"]
        tail = self._chat(chat_id).history[-5:]
        lines += [f"  {m.describe()}" for m in tail] or ["  (nothing)"]
        failed = [c for c in self.calls if not c.ok and c.params.get("chat_id") == chat_id]
        lines += [f"refused: {_describe_call(c)}" for c in failed[-3:]]
        if self._updates:
            lines.append(f"{len(self._updates)} update(s) not yet fetched: is the bot polling?")
        if self.filtered_updates:
            kinds = sorted({_kind(u) for u in self.filtered_updates})
            lines.append(
                f"dropped by allowed_updates={sorted(self._allowed_updates or [])}: {kinds}"
            )
        return "\n".join(lines)

    # --- used by FakeUser ---------------------------------------------------------------

    def enqueue_update(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), kind: body}
        self._updates.append(update)
        self._notify()
        return update

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

    async def wait_for(self, predicate: Callable[[], T | None], timeout: float) -> T | None:
        """Re-check `predicate` on every change to the fake until it is truthy or time is up."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (result := predicate()):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            changed = self._changed
            with suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)
        return result

    # --- HTTP ---------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return ApiError(401, "Unauthorized").response()
        call = Call(request.match_info["method"], await _read_params(request), time.monotonic())
        self.calls.append(call)
        self._notify()
        try:
            handler = _METHODS.get(call.method.lower())  # names are case-insensitive
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            self._refuse_if_told(call)
            call.result = await getattr(self, handler)(call.params)
        except ApiError as error:
            call.error_code, call.description = error.error_code, error.description
            self._notify()
            return error.response()
        self._notify()
        return web.json_response({"ok": True, "result": call.result})

    def _refuse_if_told(self, call: Call) -> None:
        chat_id = call.params.get("chat_id")
        for fault in self._faults:
            if fault.method == call.method.lower() and fault.chat_id in (None, chat_id):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                raise fault.error
        if chat_id in self._blocked:
            raise self._blocked[chat_id]

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # --- updates ------------------------------------------------------------------------

    @_api("getUpdates")
    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if "allowed_updates" in params:
            self._allowed_updates = set(params["allowed_updates"] or []) or None
        offset = params.get("offset")
        if offset is not None:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # an older waiting getUpdates is terminated, as Telegram does
        timeout = min(float(params.get("timeout", 0)), 50.0)
        limit = min(max(int(params.get("limit", 100)), 1), 100)
        await self.wait_for(
            lambda: self._stopping or generation != self._poll_generation or self._deliverable(),
            timeout,
        )
        if generation != self._poll_generation:
            raise ApiError(409, _DEFAULT_DESCRIPTIONS[409])
        return self._deliverable()[:limit]

    def _deliverable(self) -> list[dict[str, Any]]:
        wanted = []
        for update in self._updates:
            kind = _kind(update)
            if self._allowed_updates is None:
                allowed = kind not in _OPT_IN_UPDATES
            else:
                allowed = kind in self._allowed_updates
            (wanted if allowed else self.filtered_updates).append(update)
        self._updates = wanted
        return wanted

    def _drop_pending(self, params: dict[str, Any]) -> None:
        if params.get("drop_pending_updates"):
            self._updates.clear()

    @_api("setWebhook")
    async def _set_webhook(self, params: dict[str, Any]) -> bool:
        self.webhook_url = params.get("url") or ""
        self.webhook_allowed_updates = params.get("allowed_updates")
        self._drop_pending(params)
        return True

    @_api("deleteWebhook")
    async def _delete_webhook(self, params: dict[str, Any]) -> bool:
        self.webhook_url = ""
        self._drop_pending(params)
        return True

    @_api("getWebhookInfo")
    async def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        info = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook_allowed_updates:
            info["allowed_updates"] = self.webhook_allowed_updates
        return info

    # --- bot settings -------------------------------------------------------------------

    @_api(
        "sendChatAction",
        "close",
        "logOut",
        "setMyDescription",
        "setMyName",
        "setMyShortDescription",
        "setChatMenuButton",
    )
    async def _true(self, params: dict[str, Any]) -> bool:
        return True

    @_api("getMe")
    async def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.bot_user

    @_api("getChat")
    async def _get_chat(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._chat_object(_chat_id(params))

    @_api("setMyCommands")
    async def _set_commands(self, params: dict[str, Any]) -> bool:
        self.commands[_commands_key(params)] = params.get("commands") or []
        return True

    @_api("deleteMyCommands")
    async def _delete_commands(self, params: dict[str, Any]) -> bool:
        self.commands.pop(_commands_key(params), None)
        return True

    @_api("getMyCommands")
    async def _get_commands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.commands.get(_commands_key(params), [])

    # --- messages -----------------------------------------------------------------------

    @_api("sendMessage")
    async def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = _chat_id(params)
        text = _visible(params, "text")
        return self._post(chat_id, params, {"text": text}, text=text, source=params["text"])

    @_api("sendPhoto")
    async def _send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._send_file(params, "photo")

    @_api("sendDocument")
    async def _send_document(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._send_file(params, "document")

    def _send_file(self, params: dict[str, Any], kind: str) -> dict[str, Any]:
        chat_id = _chat_id(params)
        file = params.get(kind)
        if not file:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        file_id = self.unique_id(f"{kind}-")
        media: Any = {"file_id": file_id, "file_unique_id": f"u{file_id}"}
        if isinstance(file, Upload):
            media |= {"file_size": len(file.data)}
            if kind == "document":
                media |= {"file_name": file.filename, "mime_type": file.content_type}
        if kind == "photo":
            media = [media | {"width": 800, "height": 600}]  # one size per photo
        content: dict[str, Any] = {kind: media}
        caption = _visible(params, "caption") if params.get("caption") else ""
        if caption:
            content["caption"] = caption
        return self._post(
            chat_id,
            params,
            content,
            text=caption,
            source=params.get("caption"),
            kind=kind,
            file=file,
        )

    @_api("sendInvoice")
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

    @_api("editMessageText")
    async def _edit_text(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        if "inline_message_id" in params:
            return True
        message = self._own_message(params, "Bad Request: message to edit not found")
        if message.kind != "text":
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text = _visible(params, "text")
        return self._edit(message, params, {"text": text}, text=text, source=params["text"])

    @_api("editMessageCaption")
    async def _edit_caption(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        if "inline_message_id" in params:
            return True
        message = self._own_message(params, "Bad Request: message to edit not found")
        if message.kind not in ("photo", "document"):
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption = _visible(params, "caption") if params.get("caption") else ""
        return self._edit(
            message, params, {"caption": caption}, text=caption, source=params.get("caption")
        )

    @_api("editMessageReplyMarkup")
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

    @_api("deleteMessage")
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
        if chat_id < 0:
            return {"id": chat_id, "type": "supergroup", "title": f"Group {chat_id}"}
        return {"id": chat_id, "type": "private", "first_name": f"User {chat_id}"}

    # --- queries and payments -----------------------------------------------------------

    @_api("answerCallbackQuery")
    async def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query_id = self._close_query(
            params,
            "callback_query_id",
            "Bad Request: query is too old and response timeout expired or query ID is invalid",
        )
        self.callback_answers[query_id] = params
        return True

    @_api("answerPreCheckoutQuery")
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

    @_api("refundStarPayment")
    async def _refund_star_payment(self, params: dict[str, Any]) -> bool:
        charge = self.charges.get(params.get("telegram_payment_charge_id", ""))
        if charge is None or charge.user_id != params.get("user_id"):
            raise ApiError(400, "Bad Request: CHARGE_NOT_FOUND")
        if charge.refunded:
            raise ApiError(400, "Bad Request: CHARGE_ALREADY_REFUNDED")
        charge.refunded = True
        return True


@asynccontextmanager
async def run_polling(dp: Dispatcher, bot: Bot, **polling_kwargs: Any) -> AsyncIterator[None]:
    """Poll `bot` (pointed at a running FakeTelegram) in a task for the body of the block.

    Enters once the first getUpdates has arrived; on exit stops polling, which also closes the
    bot's session. Keyword arguments go to dp.start_polling (polling_timeout=1 by default).
    """
    fake = _running.get(bot.session.api.base.split("/bot{token}", 1)[0])
    if fake is None:
        raise LookupError(f"{bot.session.api.base} is not a running FakeTelegram")
    polls_before = len(fake.calls_of("getUpdates"))
    options = {"polling_timeout": 1, "handle_signals": False} | polling_kwargs
    polling = asyncio.create_task(dp.start_polling(bot, **options))
    try:
        first_poll = asyncio.create_task(
            fake.wait_call("getUpdates", count=polls_before + 1, timeout=10.0)
        )
        await asyncio.wait({polling, first_poll}, return_when=asyncio.FIRST_COMPLETED)
        if not first_poll.done():
            first_poll.cancel()
            with suppress(asyncio.CancelledError):
                await first_poll
            polling.result()  # start_polling failed: raise its error
            raise RuntimeError("polling ended before asking for updates")
        first_poll.result()
        yield
    finally:
        if not polling.done():
            try:
                await dp.stop_polling()
            except RuntimeError:  # stopped before it took the polling lock
                polling.cancel()
        with suppress(asyncio.CancelledError):
            await asyncio.wait_for(polling, 5.0)


def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
    scope = json.dumps(params.get("scope") or {"type": "default"}, sort_keys=True)
    return scope, params.get("language_code") or ""


def _kind(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")


def _describe_call(call: Call) -> str:
    outcome = "ok" if call.ok else f"{call.error_code} {call.description}"
    shown = {k: v for k, v in call.params.items() if k in ("chat_id", "text", "message_id")}
    return f"{call.method} {shown} -> {outcome}"


# The wire names stay importable from here, where the tests have always found them.
__all__ = [
    "BLOCKED",
    "CHAT_NOT_FOUND",
    "DEACTIVATED",
    "NOT_MODIFIED",
    "ApiError",
    "Call",
    "Charge",
    "FakeTelegram",
    "Upload",
    "html_to_text",
    "run_polling",
]
