"""The outbox sender: due notifications rendered in the recipient's language and sent, paced.

Per claimed row exactly one outcome is written: sent; skipped (the user blocked the bot or
never started it, or the row cannot be worded) with the reason kept; failed and retried
later with backoff; or postponed when Telegram says to wait longer than we wait inline.
TelegramRetryAfter is obeyed (every send pauses) and the same message is retried without
counting a failure. Nothing raised here escapes a run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import broadcast
from core.notify import EDITS, Render, UnknownNotification
from db.models import Broadcast
from scheduler import outbox
from scheduler.pacing import Pacer
from telemetry import metrics

log = logging.getLogger(__name__)

MAX_INLINE_WAIT = 20.0  # a longer retry_after releases the row instead of holding the lease
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# The buttons sent with a row, if any (injected like Render, in the recipient's language).
Keyboard = Callable[[str | None, str, dict[str, Any]], InlineKeyboardMarkup | None]
Send = Callable[[], Awaitable[None]]
# What happened to one row, for the rest of its chat's rows in this run.
DONE, WAIT, BLOCKED = "done", "wait", "blocked"


@dataclass
class SendReport:
    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    postponed: int = 0
    waited: int = 0  # 429s obeyed


def unreachable(error: Exception) -> bool:
    """The user blocked the bot, deleted the account, or the chat does not exist."""
    if isinstance(error, TelegramForbiddenError):
        return True
    return isinstance(error, TelegramBadRequest) and "chat not found" in error.message.lower()


async def send_broadcast(bot: Bot, chat_id: int, message: Broadcast) -> None:
    """A broadcast as its recipients get it (the admin's preview is sent by this too): the
    text, or the photo with it as caption, and the link button if it has one."""
    markup = None
    if message.button_text and message.button_url:
        button = InlineKeyboardButton(text=message.button_text, url=message.button_url)
        markup = InlineKeyboardMarkup(inline_keyboard=[[button]])
    if message.photo_file_id:
        await bot.send_photo(
            chat_id, message.photo_file_id, caption=message.text, reply_markup=markup
        )
    else:
        await bot.send_message(chat_id, message.text or "", reply_markup=markup)


class OutboxSender:
    """Sends due outbox rows; `run()` is the job. The run renews its rows' short lease every
    lease / 3 while it works, so no replica takes them while they are still being sent, and
    a killed process holds them no longer than one lease."""

    def __init__(
        self,
        bot: Bot,
        sessionmaker: async_sessionmaker[AsyncSession],
        render: Render,
        *,
        keyboard: Keyboard | None = None,
        pacer: Pacer | None = None,
        batch: int = 100,
        per_chat: int = 5,
        lease: timedelta = outbox.LEASE,
        broadcast_rate: int = 20,
    ) -> None:
        self.bot = bot
        self.sessionmaker = sessionmaker
        self.render = render
        self.keyboard = keyboard
        self.pacer = pacer or Pacer()
        self.batch = batch
        self.per_chat = per_chat
        self.lease = lease
        self.broadcast_rate = broadcast_rate
        self._broadcasts: dict[int, Broadcast] = {}

    async def run(self) -> SendReport:
        """One pass: claim a batch, send it (one task per chat), record every outcome."""
        report = SendReport()
        try:
            rows = await outbox.claim_due(
                self.sessionmaker, limit=self.batch, per_chat=self.per_chat, lease=self.lease
            )
        except Exception:
            log.exception("outbox: claiming notifications failed")
            return report
        report.claimed = len(rows)
        await self._send_rows(rows, report)
        # Broadcasts after everything else, at most broadcast_rate rows a run (a second).
        if len(rows) < self.batch and self.broadcast_rate:
            claimed = await self._claim_broadcast_rows()
            report.claimed += len(claimed)
            await self._send_rows(claimed, report)
        if report.claimed:
            log.info("outbox: %s", report)
        return report

    async def _send_rows(self, rows: list[outbox.Outgoing], report: SendReport) -> None:
        by_chat: dict[int, list[outbox.Outgoing]] = {}
        for row in rows:
            by_chat.setdefault(row.chat_id, []).append(row)
        if not rows:
            return
        renewing = asyncio.create_task(self._renew([row.id for row in rows]))
        try:
            await asyncio.gather(*(self._send_chat(chat, report) for chat in by_chat.values()))
        finally:
            renewing.cancel()

    async def _claim_broadcast_rows(self) -> list[outbox.Outgoing]:
        try:
            rows = await outbox.claim_due(
                self.sessionmaker,
                limit=self.broadcast_rate,
                per_chat=1,
                lease=self.lease,
                broadcasts=True,
            )
            async with self.sessionmaker() as session:
                ids = {row.broadcast_id for row in rows if row.broadcast_id is not None}
                self._broadcasts = await broadcast.contents(session, ids)
        except Exception:
            log.exception("outbox: claiming broadcast rows failed")
            return []
        return rows

    async def _send_chat(self, rows: list[outbox.Outgoing], report: SendReport) -> None:
        blocked = False
        for index, row in enumerate(rows):
            try:
                if blocked:  # found unreachable a moment ago: no need to ask Telegram again
                    await outbox.mark_skipped(self.sessionmaker, row.id, "the chat is unreachable")
                    report.skipped += 1
                    continue
                outcome = await self._send_one(row, report)
            except Exception:  # a database error while recording: the lease brings it back
                log.exception("outbox: notification %s could not be recorded", row.id)
                outcome = WAIT
            if outcome == WAIT:
                # Later rows of this chat wait for the next run, keeping their order; the
                # claim skips them while an earlier one is waiting for its retry.
                await self._release(rows[index + 1 :])
                return
            blocked = outcome == BLOCKED

    async def _renew(self, row_ids: list[int]) -> None:
        """Keep the lease of this run's rows while it works (until cancelled)."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            try:
                await outbox.renew(self.sessionmaker, row_ids, self.lease)
            except Exception:  # the next renewal tries again; the lease still holds a while
                log.exception("outbox: renewing the lease of %d rows failed", len(row_ids))

    async def _release(self, rows: list[outbox.Outgoing]) -> None:
        for row in rows:
            try:
                await outbox.postpone(self.sessionmaker, row.id, 0)
            except Exception:
                log.exception("outbox: notification %s could not be released", row.id)

    async def _send_one(self, row: outbox.Outgoing, report: SendReport) -> str:
        """Send one row and record the outcome: DONE, WAIT (the chat's next rows wait for
        the next run) or BLOCKED (the chat cannot be reached)."""
        if row.blocked:
            await outbox.mark_skipped(self.sessionmaker, row.id, "the user has blocked the bot")
            report.skipped += 1
            return BLOCKED
        if row.broadcast_id is not None:
            message = self._broadcasts.get(row.broadcast_id)
            if message is None or message.status != broadcast.SENDING:
                await outbox.mark_skipped(self.sessionmaker, row.id, broadcast.CANCELLED_REASON)
                report.skipped += 1
                return DONE
            to_send = partial(send_broadcast, self.bot, row.chat_id, message)
            return await self._deliver(row, report, to_send)
        try:
            text = self.render(row.language, row.kind, row.payload)
            markup = self.keyboard(row.language, row.kind, row.payload) if self.keyboard else None
        except UnknownNotification as exc:
            await outbox.mark_skipped(self.sessionmaker, row.id, f"unknown kind: {exc}")
            report.skipped += 1
            return DONE
        except Exception as exc:
            log.exception("outbox: rendering notification %s failed", row.id)
            await outbox.mark_failed(self.sessionmaker, row, f"render: {exc!r}")
            report.failed += 1
            return WAIT

        async def send() -> None:
            if not await self._edited(row, text, markup):
                await self.bot.send_message(
                    row.chat_id, text, link_preview_options=NO_PREVIEW, reply_markup=markup
                )

        return await self._deliver(row, report, send)

    async def _edited(
        self, row: outbox.Outgoing, text: str, markup: InlineKeyboardMarkup | None
    ) -> bool:
        """The provider's answer to an order edits the customer's confirmation message; True
        once edited. A message that can no longer be edited gets a new message instead."""
        message_id = row.payload.get("message_id") if row.kind in EDITS else None
        if not isinstance(message_id, int) or message_id <= 0:
            return False
        try:
            await self.bot.edit_message_text(
                text=text,
                chat_id=row.chat_id,
                message_id=message_id,
                reply_markup=markup,
                link_preview_options=NO_PREVIEW,
            )
        except TelegramBadRequest as exc:
            if "not modified" in exc.message:
                return True
            if unreachable(exc):
                raise
            log.info("outbox: message %s not editable (%s); sending anew", message_id, exc)
            return False
        return True

    async def _deliver(self, row: outbox.Outgoing, report: SendReport, send: Send) -> str:
        """Send (paced, obeying retry_after) and record the outcome."""
        while True:
            # Another chat's long retry_after pauses every send: release the row instead of
            # sleeping past its lease (another replica would then send it too).
            if not await self.pacer.wait(row.chat_id, give_up_after=MAX_INLINE_WAIT):
                await outbox.postpone(self.sessionmaker, row.id, self.pacer.paused_for())
                report.postponed += 1
                return WAIT
            try:
                await send()
            except TelegramRetryAfter as exc:
                report.waited += 1
                metrics.TELEGRAM_RATE_LIMITED.inc()
                self.pacer.pause(exc.retry_after)
                if exc.retry_after > MAX_INLINE_WAIT:
                    await outbox.postpone(self.sessionmaker, row.id, exc.retry_after, exc.message)
                    report.postponed += 1
                    return WAIT
                log.info("outbox: Telegram asks to wait %s s", exc.retry_after)
                continue  # the same message again, once the pause is over
            except Exception as exc:
                return await self._failed(row, exc, report)
            await outbox.mark_sent(self.sessionmaker, row.id)
            report.sent += 1
            metrics.OUTBOX_SENT.inc()
            return DONE

    async def _failed(self, row: outbox.Outgoing, exc: Exception, report: SendReport) -> str:
        reason = f"{type(exc).__name__}: {exc}"
        if unreachable(exc):
            log.info("outbox: chat %s is unreachable (%s); marked blocked", row.chat_id, exc)
            metrics.TELEGRAM_BLOCKED.inc()
            await outbox.mark_skipped(self.sessionmaker, row.id, reason, block_chat=row.chat_id)
            report.skipped += 1
            return BLOCKED
        if row.broadcast_id is not None and isinstance(exc, TelegramBadRequest):
            # Telegram refuses this message itself: retrying would not change its mind.
            await outbox.mark_skipped(self.sessionmaker, row.id, reason)
            report.skipped += 1
            return DONE
        log.warning("outbox: sending notification %s failed: %s", row.id, reason)
        await outbox.mark_failed(self.sessionmaker, row, reason)
        report.failed += 1
        metrics.OUTBOX_FAILED.inc()
        return WAIT
