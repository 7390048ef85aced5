"""A fake Telegram Bot API server over real HTTP, for end-to-end tests.

The bot under test talks to it exactly as to Telegram: in process with
`AiohttpSession(api=TelegramAPIServer.from_base(fake.base_url))` (or `fake.create_bot()`), or
as `python -m bot` with TELEGRAM_API_URL=fake.base_url and BOT_TOKEN=fake.token. Tests play
users through `fake.user(...)` (telegram_user.py), read each chat's history and `fake.calls`.

It answers the methods the panel uses or is about to (messages and edits, photos with a
caption, callback answers, Stars invoices, pre-checkout answers and refunds, command menus,
polling and webhooks); any other method is a 404 as in Telegram. The updates side lives in
telegram_updates.py, the chats side in telegram_chats.py, the wire rules in telegram_wire.py.
"""

# ruff: noqa: ASYNC109 - waits take a `timeout` argument, like the rest of the test helpers

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any, TypeVar

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web

from tests.fakes.telegram_chats import Charge, ChatMethods
from tests.fakes.telegram_updates import UpdateQueue
from tests.fakes.telegram_user import WAIT, FakeUser
from tests.fakes.telegram_wire import (
    BLOCKED,
    CHAT_NOT_FOUND,
    DEACTIVATED,
    METHODS,
    NOT_MODIFIED,
    TERMINATED,
    ApiError,
    Upload,
    _read_params,
    api,
    html_to_text,
)

T = TypeVar("T")

_DEFAULT_DESCRIPTIONS = {
    400: CHAT_NOT_FOUND,
    403: BLOCKED,
    409: TERMINATED,
    500: "Internal Server Error",
    502: "Bad Gateway",
}
_running: dict[str, FakeTelegram] = {}  # base_url -> server, for run_polling


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
class _Fault:
    method: str  # lower case: Telegram method names are case-insensitive
    chat_id: int | None
    error: ApiError
    times: int


class FakeTelegram(UpdateQueue, ChatMethods):
    def __init__(self, token: str = "123456:TEST", *, username: str = "test_smm_bot") -> None:
        super().__init__()
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
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._users: dict[int, FakeUser] = {}
        self._faults: list[_Fault] = []
        self._blocked: dict[int, ApiError] = {}
        self._holds: dict[tuple[str, int | None], asyncio.Event] = {}
        self.held: list[Call] = []  # calls waiting in a hold right now
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> FakeTelegram:
        app = web.Application(client_max_size=50 * 2**20)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        # handler_cancellation: a held call whose client went away (kill -9) is not performed.
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=1.0, handler_cancellation=True
        )
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

    def hold(self, method: str, chat_id: int | None = None) -> None:
        """Later calls of `method` (to `chat_id`, if given) wait, not performed, until
        release(); a call whose client goes away meanwhile (kill -9) is never performed."""
        self._holds.setdefault((method.lower(), chat_id), asyncio.Event())

    def release(self, method: str, chat_id: int | None = None) -> None:
        hold = self._holds.pop((method.lower(), chat_id), None)
        if hold is not None:
            hold.set()

    async def _wait_if_held(self, call: Call) -> None:
        method, chat_id = call.method.lower(), call.params.get("chat_id")
        hold = self._holds.get((method, chat_id)) or self._holds.get((method, None))
        if hold is None:
            return
        self.held.append(call)
        self._notify()
        try:
            await hold.wait()
        finally:
            self.held.remove(call)
            self._notify()

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
        self, method: str, *, timeout: float = WAIT, count: int = 1, **params: Any
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

    def describe_chat(self, chat_id: int) -> str:
        """What a failed wait should show: the chat's last messages and why nothing came."""
        lines = [f"chat {chat_id}, the bot's latest sends and edits:"]
        tail = self.history(chat_id)[-5:]
        lines += [f"  {m.describe()}" for m in tail] or ["  (nothing)"]
        failed = [c for c in self.calls if not c.ok and c.params.get("chat_id") == chat_id]
        lines += [f"refused: {_describe_call(c)}" for c in failed[-3:]]
        return "\n".join(lines + self.describe_updates())

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
            handler = METHODS.get(call.method.lower())  # names are case-insensitive
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            self._refuse_if_told(call)
            await self._wait_if_held(call)
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

    # --- the bot itself ----------------------------------------------------------------

    @api("getMe")
    async def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.bot_user

    @api("setMyCommands")
    async def _set_commands(self, params: dict[str, Any]) -> bool:
        self.commands[_commands_key(params)] = params.get("commands") or []
        return True

    @api("deleteMyCommands")
    async def _delete_commands(self, params: dict[str, Any]) -> bool:
        self.commands.pop(_commands_key(params), None)
        return True

    @api("getMyCommands")
    async def _get_commands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.commands.get(_commands_key(params), [])


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
