"""The refusal core hands to the chat: a code that picks the words, details that fill them."""

from __future__ import annotations

from typing import Any


class Refusal(Exception):
    """A refused request the chat explains; `code` picks the message, `details` fill it."""

    def __init__(self, code: str, **details: Any) -> None:
        super().__init__(code)
        self.code = code
        self.details = details
