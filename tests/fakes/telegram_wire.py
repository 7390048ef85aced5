"""The wire side of the fake Bot API (telegram_server.py): what a request says and what
Telegram would refuse in it. Pure helpers: the method registry, form/JSON parameter decoding,
the HTML a user reads, inline-keyboard checks, and Telegram's error shape.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

BLOCKED = "Forbidden: bot was blocked by the user"
DEACTIVATED = "Forbidden: user is deactivated"
CHAT_NOT_FOUND = "Bad Request: chat not found"
TERMINATED = "Conflict: terminated by other getUpdates request"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
# Form fields that are strings even when they look like JSON: a user's "100" stays "100".
# fmt: off
_STRING_FIELDS = frozenset({
    "text", "caption", "data", "payload", "title", "description", "currency", "parse_mode",
    "url", "callback_query_id", "pre_checkout_query_id", "shipping_query_id", "inline_query_id",
    "inline_message_id", "telegram_payment_charge_id", "provider_token", "provider_data",
    "start_parameter", "error_message", "emoji", "action", "secret_token", "language_code",
    "business_connection_id", "message_effect_id", "name", "short_description", "photo",
    "document", "video", "audio", "voice", "animation", "sticker", "thumbnail", "question",
})
# fmt: on


_Handler = TypeVar("_Handler", bound=Callable[..., Any])
METHODS: dict[str, str] = {}  # Bot API method name, lower case -> FakeTelegram attribute


def api(*names: str) -> Callable[[_Handler], _Handler]:
    """Register a FakeTelegram coroutine as the handler of these Bot API methods."""

    def register(handler: _Handler) -> _Handler:
        for name in names:
            METHODS[name.lower()] = handler.__name__
        return handler

    return register


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes = field(repr=False)


class ApiError(Exception):
    def __init__(self, error_code: int, description: str, **parameters: Any) -> None:
        super().__init__(f"{error_code} {description}")
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def response(self) -> web.Response:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return web.json_response(body, status=self.error_code)


async def _read_params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        return dict(await request.json()) if request.can_read_body else {}
    raw: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        raw.update(await request.post())
    uploads = {
        key: Upload(value.filename, value.content_type, value.file.read())
        for key, value in raw.items()
        if isinstance(value, web.FileField)
    }
    params = {key: _decode(key, value) for key, value in raw.items() if key not in uploads}
    for key, value in params.items():  # aiogram sends files as "attach://<field>"
        if isinstance(value, str) and value.startswith("attach://"):
            params[key] = uploads.pop(value.removeprefix("attach://"), value)
    return params | uploads


def _decode(key: str, value: str) -> Any:
    if key in _STRING_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _chat_id(params: dict[str, Any]) -> int:
    chat_id = params.get("chat_id")
    if chat_id is None or chat_id == "":
        raise ApiError(400, "Bad Request: chat_id is empty")
    if isinstance(chat_id, str) and chat_id.lstrip("-").isdigit():
        chat_id = int(chat_id)
    if not isinstance(chat_id, int):
        raise ApiError(400, CHAT_NOT_FOUND)
    return chat_id


def _visible(params: dict[str, Any], key: str) -> str:
    """The text (or caption) as the user will read it, refused as Telegram refuses it."""
    source = str(params.get(key) or "")
    parse_mode = str(params.get("parse_mode") or "").lower()
    has_entities = "entities" in params or "caption_entities" in params
    text = html_to_text(source) if parse_mode == "html" and not has_entities else source
    if not text.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    limit, what = (4096, "message") if key == "text" else (1024, "message caption")
    if len(text.encode("utf-16-le")) // 2 > limit:
        raise ApiError(400, f"Bad Request: {what} is too long")
    return text


def _inline_keyboard(markup: Any) -> dict[str, Any] | None:
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        return None
    for row in markup["inline_keyboard"]:
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode()) <= 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup


# fmt: off
_HTML_TAGS = frozenset({
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
    "code", "pre", "blockquote", "tg-emoji", "tg-time",
})
# fmt: on
_HTML_MARKUP = re.compile(r"<|&(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")


def html_to_text(source: str) -> str:
    """Telegram HTML to the text the user reads, refusing what Telegram refuses (an unescaped
    "<", unknown or unclosed tags); unknown &entities pass through as Telegram lets them."""
    pieces: list[str] = []
    open_tags: list[str] = []
    position = 0
    while found := _HTML_MARKUP.search(source, position):
        pieces.append(source[position : found.start()])
        if found.group() != "<":
            pieces.append(html.unescape(found.group()))
            position = found.end()
            continue
        offset = len(source[: found.start()].encode())
        end = source.find(">", found.start())
        if end == -1:
            raise _cant_parse(f"Unclosed start tag at byte offset {offset}")
        tag = source[found.start() + 1 : end]
        if tag.startswith("/"):
            name = tag[1:].strip().lower()
            if not open_tags or open_tags[-1] != name:
                raise _cant_parse(f'Unmatched end tag "{name}" at byte offset {offset}')
            open_tags.pop()
        else:
            name = re.split(r"\s", tag, maxsplit=1)[0].lower()
            if name not in _HTML_TAGS:
                raise _cant_parse(f'Unsupported start tag "{name}" at byte offset {offset}')
            open_tags.append(name)
        position = end + 1
    if open_tags:
        raise _cant_parse(f'Can\'t find end tag corresponding to start tag "{open_tags[-1]}"')
    return "".join(pieces) + source[position:]


def _cant_parse(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: can't parse entities: {reason}")
