"""Small helpers the admin modules share: arguments, amounts, long answers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from aiogram.filters import CommandObject
from aiogram.types import InlineKeyboardMarkup, LinkPreviewOptions, Message
from aiogram.utils.i18n import gettext as _

from core.money import InvalidAmount, parse_amount
from core.numbers import parse_id
from handlers.ui import split_message

MAX_MESSAGES = 5
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def args_of(command: CommandObject) -> list[str]:
    return (command.args or "").split()


def to_int(text: str) -> int | None:
    """An id argument ("42", "#42"); None for anything else (see core.numbers)."""
    return parse_id(text)


def to_amount(text: str) -> Decimal | None:
    try:
        return parse_amount(text.rstrip("%"))
    except (InvalidAmount, ArithmeticError, ValueError):
        return None


def amount(value: Decimal | None) -> str:
    """An exact amount for admins: no trailing zeros past the cents ("0.0002", "1.35")."""
    if value is None:
        return "—"
    text = f"{value.normalize():f}"
    whole, _sep, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else "—"


def usage(line: str, *explain: str) -> str:
    return "\n".join([_("Usage: <code>{line}</code>").format(line=line), *explain])


async def answer_long(
    message: Message,
    lines: list[str],
    *,
    reply_markup: InlineKeyboardMarkup | None = None,
    max_messages: int = MAX_MESSAGES,
) -> None:
    """Send lines as a few messages under the limit; the keyboard goes on the last one."""
    parts = split_message(lines)
    if len(parts) > max_messages:
        hidden = sum(part.count("\n") + 1 for part in parts[max_messages:])
        parts = parts[:max_messages]
        parts[-1] += "\n" + _("… and {count} more lines.").format(count=hidden)
    for i, part in enumerate(parts):
        markup = reply_markup if i == len(parts) - 1 else None
        await message.answer(part, reply_markup=markup, link_preview_options=NO_PREVIEW)
