"""The small UI kit every screen uses: cutting text, splitting long answers, paging, editing
the pressed message, money. Pure helpers (plus `show`, which talks to Telegram)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from aiogram import Bot, F, flags, html
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from pydantic import Field

from core.money import format_money
from core.numbers import INT64_MAX

PER_PAGE = 8
# Text that is not a command: a step's input (commands such as /cancel pass through).
NOT_A_COMMAND = ~F.text.startswith("/")
# Telegram refuses messages over 4096 characters; keep a margin for a footer or the markup.
MESSAGE_LIMIT = 3800

# The type of every id or page a button carries: forged data with a number beyond 64 bits
# does not match the button (the press gets the stale-button answer) instead of overflowing
# in the database with a traceback per press.
ButtonId = Annotated[int, Field(ge=0, le=INT64_MAX)]

# CallbackAnswerMiddleware answers every button press before its handler runs; a handler
# marked with this answers its press itself (an alert saying why: stale, not found, ...).
answers_itself = flags.callback_answer(disabled=True)


def clip(text: str | None, limit: int) -> str:
    """`text` cut to `limit` characters, "…" marking the cut. Raw text in, raw text out:
    escape after cutting, so an HTML entity is never cut in half."""
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def inline(text: str | None, limit: int = 60) -> str:
    """Outside text (a name, a provider's answer) as one escaped line of a listing."""
    return html.quote(clip((text or "").replace("\n", " ").strip(), limit))


def split_message(lines: Iterable[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Join lines into as few messages as fit under `limit` characters each, never splitting
    a line (one longer than a whole message is cut)."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        line = line[:limit]
        if current and size + len(line) + 1 > limit:
            chunks.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        chunks.append("\n".join(current))
    return chunks


def money_text(amount: Decimal, currency: str) -> str:
    return f"{format_money(amount)} {currency}"


def payload_money(value: Any, currency: str) -> str:
    """An amount stored in a notification's payload (a string), shown as money; what is not
    a number is shown as it is, escaped."""
    try:
        return format_money(Decimal(str(value)), currency)
    except (InvalidOperation, ValueError):
        return html.quote(str(value))


def button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def keyboard(*rows: Sequence[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    """An inline keyboard from its rows (empty rows left out). Built directly: aiogram's
    InlineKeyboardBuilder deep-copies every button once more when it exports them."""
    return InlineKeyboardMarkup(inline_keyboard=[list(row) for row in rows if row])


def page_count(total: int, per_page: int = PER_PAGE) -> int:
    return max(1, (total + per_page - 1) // per_page)


def pager_row(
    page: int, pages: int, make: Callable[[int], CallbackData]
) -> list[InlineKeyboardButton]:
    """◀ 2/5 ▶ (only the arrows that lead somewhere)."""
    if pages <= 1:
        return []
    row = []
    if page > 0:
        row.append(InlineKeyboardButton(text="◀", callback_data=make(page - 1).pack()))
    row.append(InlineKeyboardButton(text=f"{page + 1}/{pages}", callback_data=make(page).pack()))
    if page < pages - 1:
        row.append(InlineKeyboardButton(text="▶", callback_data=make(page + 1).pack()))
    return row


async def show(
    query: CallbackQuery, bot: Bot, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """Replace the pressed message with `text` (a new message if it can no longer be edited)."""
    message = query.message
    if isinstance(message, Message):
        try:
            await message.edit_text(text, reply_markup=markup)
            return
        except TelegramBadRequest as exc:
            if "not modified" in exc.message:
                return
    await bot.send_message(query.from_user.id, text, reply_markup=markup)
