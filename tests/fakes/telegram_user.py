"""The user's side of the fake Telegram: a person in a private chat with the bot.

A FakeUser never talks to the bot directly. What it does (send a message, press a button,
pay) becomes an update queued on the FakeTelegram server for the bot to fetch with
getUpdates; what it sees is the server's record of what the bot sent to its chat.
"""

# ruff: noqa: ASYNC109 - waits take a `timeout` argument, like the rest of the test helpers

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from tests.fakes.telegram_server import FakeTelegram

# How long a test waits for something the bot should do. A passing test never waits this long;
# it is sized for a loaded 2-core machine, where a few seconds were outrun.
WAIT = 15.0


class Button(NamedTuple):
    text: str
    callback_data: str | None  # None for URL, pay and other non-callback buttons


def buttons_of(markup: dict[str, Any] | None) -> list[list[Button]]:
    if not markup:
        return []
    return [
        [Button(button["text"], button.get("callback_data")) for button in row]
        for row in markup.get("inline_keyboard", [])
    ]


@dataclass(frozen=True)
class BotMessage:
    """A bot message as the user saw it at one moment: when it was sent, or after an edit."""

    chat_id: int
    message_id: int
    text: str  # what the user reads: the text or caption with HTML markup resolved
    buttons: list[list[Button]]  # the inline keyboard, row by row
    source: str | None = None  # the text or caption exactly as the bot sent it
    kind: str = "text"  # text | photo | invoice
    was_edit: bool = False
    deleted: bool = False
    reply_markup: dict[str, Any] | None = None  # as sent, reply keyboards included
    file: Any = None  # an Upload, or the file_id/URL string the bot sent
    invoice_payload: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)  # the Message object

    @property
    def button_texts(self) -> list[str]:
        return [button.text for row in self.buttons for button in row]

    def describe(self) -> str:
        flags = "".join(
            flag for flag, on in ((" (edited)", self.was_edit), (" (deleted)", self.deleted)) if on
        )
        line = f"#{self.message_id}{flags} {self.kind} {self.text!r}"
        if self.buttons:
            line += f" [buttons: {' | '.join(self.button_texts)}]"
        return line


ButtonMatch = str | Callable[[Button], bool]
MessageMatch = str | Callable[[BotMessage], bool] | None


class FakeUser:
    """A Telegram user whose private chat with the bot has chat id == user id."""

    def __init__(
        self,
        fake: FakeTelegram,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        is_premium: bool | None = None,
    ) -> None:
        self.fake = fake
        self.id = self.chat_id = user_id
        self.as_user = _present(
            id=user_id,
            is_bot=False,
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            is_premium=is_premium,
        )
        self.as_chat = _present(
            id=user_id,
            type="private",
            first_name=first_name,
            last_name=last_name,
            username=username,
        )
        self._seen = 0  # how much of the chat's history wait_message has consumed
        self._last_callback_id: str | None = None
        self._last_pre_checkout_id: str | None = None

    def __repr__(self) -> str:
        return f"<FakeUser {self.id} {self.as_user['first_name']!r}>"

    # --- what the user sees -------------------------------------------------------------

    @property
    def messages(self) -> list[BotMessage]:
        """The bot's messages in this chat, oldest first, as they read now (after edits)."""
        return self.fake.messages(self.chat_id)

    @property
    def last_message(self) -> BotMessage | None:
        messages = self.messages
        return messages[-1] if messages else None

    async def wait_message(self, match: MessageMatch = None, timeout: float = WAIT) -> BotMessage:
        """The next message or edit the bot made in this chat after the last one consumed.

        `match` is a substring of the visible text or a predicate; sends and edits that do not
        match are consumed and skipped.
        """
        matches = _message_predicate(match)
        history = self.fake.history(self.chat_id)

        def next_match() -> BotMessage | None:
            while self._seen < len(history):
                event = history[self._seen]
                self._seen += 1
                if matches(event):
                    return event
            return None

        found = await self.fake.wait_for(next_match, timeout)
        if found is None:
            wanted = "" if match is None else f" matching {_label(match)}"
            raise AssertionError(
                f"{self!r} got no new bot message{wanted} within {timeout}s\n"
                + self.fake.describe_chat(self.chat_id)
            )
        return found

    async def wait_for_callback_answer(self, timeout: float = WAIT) -> dict[str, Any]:
        """The answerCallbackQuery params (text, show_alert, ...) for the last press."""
        query_id = self._last_callback_id
        if query_id is None:
            raise AssertionError(f"{self!r} has not pressed any button yet")
        answer = await self.fake.wait_for(lambda: self.fake.callback_answers.get(query_id), timeout)
        if answer is None:
            raise AssertionError(
                f"the bot did not answer {self!r}'s callback query {query_id} within {timeout}s\n"
                + self.fake.describe_chat(self.chat_id)
            )
        return answer

    # --- what the user does -------------------------------------------------------------

    async def send(self, text: str) -> dict[str, Any]:
        """Send a text message; a leading /command carries a bot_command entity, as in Telegram."""
        message = self._message(text=text)
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_len(command)}
            ]
        self.fake.enqueue_update("message", message)
        return message

    async def reply(self, to: BotMessage, text: str) -> dict[str, Any]:
        """Reply to one of the bot's messages (Telegram includes it, buttons and all)."""
        current = self._current(to)
        message = self._message(text=text, reply_to_message=current.raw)
        self.fake.enqueue_update("message", message)
        return message

    async def send_photo(self, caption: str = "", file_id: str = "user-photo-1") -> dict[str, Any]:
        """A photo (already on Telegram's servers, as every received photo is) with a caption."""
        photo = [{"file_id": file_id, "file_unique_id": f"u{file_id}", "width": 800,
                  "height": 600}]  # fmt: skip
        message = self._message(photo=photo, **({"caption": caption} if caption else {}))
        self.fake.enqueue_update("message", message)
        return message

    async def press(
        self, button: ButtonMatch, message: BotMessage | int | None = None, timeout: float = WAIT
    ) -> dict[str, Any]:
        """Press an inline button found by its exact text, else a unique substring of it, or
        a predicate; on `message`, or else on the newest bot message in this chat that has it.
        Like a person, waits (up to `timeout`) for the button to show up.
        """

        def candidates() -> list[BotMessage]:
            return [self._current(message)] if message is not None else self.messages[::-1]

        def find() -> tuple[BotMessage, Button] | None:
            for candidate in candidates():
                chosen = _find_button(candidate, button)
                if chosen is not None:
                    return candidate, chosen
            return None

        found = await self.fake.wait_for(find, timeout)
        if found is None:
            shown = "\n".join(f"  {m.describe()}" for m in candidates()[:5])
            raise AssertionError(
                f"{self!r} found no button {_label(button)} within {timeout}s; "
                "the newest bot messages:\n" + (shown or "  (the bot sent nothing to this chat)")
            )
        target, chosen = found
        if chosen.callback_data is None:
            raise AssertionError(
                f"button {chosen.text!r} on {target.describe()} has no callback_data"
            )
        return self._send_callback(chosen.callback_data, target.raw)

    async def press_data(self, data: str, message_id: int | None = None) -> dict[str, Any]:
        """Send a callback query with arbitrary data, as a forged or replayed press would."""
        target = (
            self.last_message
            if message_id is None
            else self.fake.find_message(self.chat_id, message_id)
        )
        if target is not None:
            raw = target.raw
        else:
            raw = {
                "message_id": message_id or 1,
                "date": int(time.time()),
                "chat": self.as_chat,
                "from": self.fake.bot_user,
            }
        return self._send_callback(data, raw)

    async def pre_checkout(self, payload: str, total_amount: int, currency: str = "XTR") -> str:
        """Start paying an invoice; returns the pre-checkout query id."""
        query = {
            "id": self.fake.open_query(),
            "from": self.as_user,
            "currency": currency,
            "total_amount": total_amount,
            "invoice_payload": payload,
        }
        self._last_pre_checkout_id = query["id"]
        self.fake.enqueue_update("pre_checkout_query", query)
        return query["id"]

    async def wait_pre_checkout_answer(self, timeout: float = WAIT) -> dict[str, Any]:
        query_id = self._last_pre_checkout_id
        if query_id is None:
            raise AssertionError(f"{self!r} has not started a payment yet")
        answer = await self.fake.wait_for(
            lambda: self.fake.pre_checkout_answers.get(query_id), timeout
        )
        if answer is None:
            raise AssertionError(
                f"the bot did not answer {self!r}'s pre-checkout query within {timeout}s\n"
                + self.fake.describe_chat(self.chat_id)
            )
        return answer

    async def successful_payment(
        self,
        payload: str,
        total_amount: int,
        charge_id: str | None = None,
        currency: str = "XTR",
    ) -> dict[str, Any]:
        """The service message Telegram sends once a payment went through."""
        charge_id = charge_id or self.fake.unique_id("stxFAKE")
        self.fake.record_charge(charge_id, self.id, total_amount, payload)
        message = self._message(
            successful_payment={
                "currency": currency,
                "total_amount": total_amount,
                "invoice_payload": payload,
                "telegram_payment_charge_id": charge_id,
                "provider_payment_charge_id": "",
            }
        )
        self.fake.enqueue_update("message", message)
        return message

    async def pay(self, invoice: BotMessage | None = None, timeout: float = WAIT) -> str:
        """Pay the given (or newest) invoice the way Telegram does; returns the charge id.

        Raises AssertionError when the bot declines the pre-checkout query.
        """
        if invoice is None:
            invoices = [m for m in self.messages if m.kind == "invoice"]
            if not invoices:
                raise AssertionError(f"the bot sent {self!r} no invoice to pay")
            invoice = invoices[-1]
        details = invoice.raw["invoice"]
        payload = invoice.invoice_payload or ""
        await self.pre_checkout(payload, details["total_amount"], details["currency"])
        answer = await self.wait_pre_checkout_answer(timeout)
        if not answer.get("ok"):
            raise AssertionError(f"the bot declined the payment: {answer.get('error_message')!r}")
        paid = await self.successful_payment(
            payload, details["total_amount"], currency=details["currency"]
        )
        return paid["successful_payment"]["telegram_payment_charge_id"]

    # --- plumbing -----------------------------------------------------------------------

    def _message(self, **content: Any) -> dict[str, Any]:
        return {
            "message_id": self.fake.new_message_id(self.chat_id, by_user=True),
            "date": int(time.time()),
            "chat": self.as_chat,
            "from": self.as_user,
            **content,
        }

    def _send_callback(self, data: str, message: dict[str, Any]) -> dict[str, Any]:
        query = {
            "id": self.fake.open_query(),
            "from": self.as_user,
            "message": message,
            "chat_instance": f"{self.fake.bot_id}{self.chat_id}",
            "data": data,
        }
        self._last_callback_id = query["id"]
        self.fake.enqueue_update("callback_query", query)
        return query

    def _current(self, message: BotMessage | int) -> BotMessage:
        message_id = message if isinstance(message, int) else message.message_id
        current = self.fake.find_message(self.chat_id, message_id)
        if current is None or current.deleted:
            raise AssertionError(f"bot message #{message_id} is not in {self!r}'s chat")
        return current


def _find_button(message: BotMessage, wanted: ButtonMatch) -> Button | None:
    buttons = [button for row in message.buttons for button in row]
    if callable(wanted):
        return next((button for button in buttons if wanted(button)), None)
    exact = [button for button in buttons if button.text == wanted]
    if exact:
        return exact[0]
    partial = [button for button in buttons if wanted in button.text]
    if len(partial) > 1:
        texts = ", ".join(repr(button.text) for button in partial)
        raise AssertionError(
            f"{wanted!r} matches several buttons on #{message.message_id}: {texts}"
        )
    return partial[0] if partial else None


def _message_predicate(match: MessageMatch) -> Callable[[BotMessage], bool]:
    if match is None:
        return lambda message: True
    if callable(match):
        return match
    return lambda message: match in message.text


def _label(match: object) -> str:
    return repr(match) if isinstance(match, str) else getattr(match, "__name__", repr(match))


def _present(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
