"""The broadcast progress job: edits each admin's progress message when its numbers change.

Rows are sent by the outbox sender; this only reads their outcome (core.broadcast.progress),
finishes a broadcast with nothing left, and edits the message at most once per change
(claimed in the database, so replicas do not edit the same progress twice).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import broadcast
from db.models import User

# The admin's message for a progress, in a language (the Telegram UI's, injected by the app).
ProgressView = Callable[[str | None, broadcast.Progress], tuple[str, InlineKeyboardMarkup | None]]

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 2.0


async def update_progress(
    bot: Bot, sessionmaker: async_sessionmaker[AsyncSession], view: ProgressView
) -> int:
    """Edit every progress message that is behind; returns how many were edited.

    `view` words it in the admin's language."""
    edited = 0
    async with sessionmaker() as session:
        for row, progress in await broadcast.progress_due(session):
            if row.progress_chat_id is None or row.progress_message_id is None:
                continue
            admin = await session.get(User, row.progress_chat_id)
            text, markup = view(admin.language if admin else None, progress)
            try:
                await bot.edit_message_text(
                    text,
                    chat_id=row.progress_chat_id,
                    message_id=row.progress_message_id,
                    reply_markup=markup,
                )
                edited += 1
            except TelegramBadRequest as exc:
                if "not modified" not in exc.message:
                    log.warning("broadcast %s: progress not shown: %s", row.id, exc.message)
            except TelegramAPIError as exc:
                log.warning("broadcast %s: progress not shown: %s", row.id, exc)
    return edited
