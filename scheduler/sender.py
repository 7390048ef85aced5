"""The outbox sender: due notifications rendered in the recipient's language and sent, paced.

Per claimed row exactly one outcome is written (in batches, see OutboxSender): sent;
skipped (the user blocked the bot or never started it, or the row cannot be worded) with
the reason kept; failed and retried later with backoff; or postponed when Telegram says to
wait longer than we wait inline.
TelegramRetryAfter is obeyed (every send pauses) and the same message is retried without
counting a failure. Nothing raised here escapes a run.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
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
from db.types import utcnow
from scheduler import outbox
from scheduler.pacing import Pacer
from telemetry import metrics

log = logging.getLogger(__name__)

MAX_INLINE_WAIT = 20.0  # a longer retry_after releases the row instead of holding the lease
LINGER = 0.25  # after a pass that sent, how long its outcomes wait for the next claim
MAX_LOOK = 10.0  # the longest the safety net goes without asking the database
BROADCAST_EVERY = 0.95  # broadcast rows are claimed at most once in this many seconds
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
    broadcast_rows: int = 0  # of the claimed


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
    """Sends due outbox rows in passes (``run``); ``drain`` is the job.

    A pass claims a batch, sends it (one task per chat) and records every outcome; the
    claim's transaction also writes what the previous pass left unwritten, so under load a
    pass costs one short transaction (and one UPDATE for all its sent rows). The pass renews
    its rows' short lease every lease / 3 while it works, so no replica takes them while
    they are still being sent, and a killed process holds them no longer than one lease.

    ``wake`` (a commit in this process inserted rows) makes the running drain look again at
    once, or asks for one: an order's outcome edits its message without waiting for a tick.
    The periodic tick is the safety net (rows of another process, retries coming due); it
    asks the database only when something may be due: after each empty look it waits
    longer, up to MAX_LOOK, and never past a retry this sender set.
    """

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
        clock: Callable[[], float] = time.monotonic,
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
        self.clock = clock
        self._broadcasts: dict[int, Broadcast] = {}
        self._outcomes = outbox.Outcomes()  # written by the next claim or record()
        self._woken = False
        self._bell = asyncio.Event()
        self._draining = False
        self._quiet = 0  # empty looks in a row
        self._next_look = 0.0  # the tick asks the database from then on
        self._next_broadcasts = 0.0  # broadcast rows: broadcast_rate per second at most
        self._retries: list[float] = []  # a heap: when rows this sender put off are due
        self.broadcast_passes = 0  # passes that took broadcast rows (the progress job's cue)

    def wake(self) -> None:
        """Rows were just committed in this process: a running drain looks again at once
        (the caller also starts one, in case none is running)."""
        self._woken = True
        self._bell.set()

    async def drain(self) -> None:
        """Passes while rows come: after a pass that sent something, the next one follows a
        wake or LINGER seconds (its claim writes this pass's outcomes, so a steady stream
        costs one transaction a pass); then what is left is recorded. Without a wake,
        returns at once, without a statement, until the next look is due."""
        if self._draining or not (self._woken or self._outcomes or self._look_due()):
            return
        self._draining, found = True, 0
        try:
            while True:
                self._woken = False
                self._bell.clear()
                started = self.clock()
                broadcasts = started >= self._next_broadcasts
                report = await self.run(broadcasts=broadcasts, record=False)
                if broadcasts:  # a little under a second: a tick's jitter must skip none
                    self._next_broadcasts = started + BROADCAST_EVERY
                found += report.claimed
                if self._woken:
                    continue
                if report.claimed - report.broadcast_rows:  # more may follow at once
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._bell.wait(), LINGER)
                    continue
                await self.record()
                if not self._woken:
                    break
        finally:
            self._draining = False
        self._plan(found)

    async def run(self, *, broadcasts: bool = True, record: bool = True) -> SendReport:
        """One pass: claim a batch (writing earlier outcomes), send it, record (one
        transaction for the pass; `record=False` leaves it to the next claim)."""
        report = SendReport()
        earlier = self._outcomes.take()
        try:
            taken = await outbox.claim(
                self.sessionmaker,
                limit=self.batch,
                per_chat=self.per_chat,
                lease=self.lease,
                broadcast_limit=self.broadcast_rate if broadcasts else 0,
                outcomes=earlier,
            )
        except Exception:
            self._outcomes.put_back(earlier)
            log.exception("outbox: claiming notifications failed")
            return report
        self._broadcasts = taken.broadcasts
        report.claimed = len(taken.rows) + len(taken.broadcast_rows)
        report.broadcast_rows = len(taken.broadcast_rows)
        self.broadcast_passes += bool(taken.broadcast_rows)
        if report.claimed:
            ids = [row.id for row in (*taken.rows, *taken.broadcast_rows)]
            renewing = asyncio.create_task(self._renew(ids))
            try:  # broadcasts after everything else
                await self._send_rows(taken.rows, report)
                await self._send_rows(taken.broadcast_rows, report)
            finally:
                renewing.cancel()
        if record:
            await self.record()
        if report.failed or report.postponed or report.waited:
            log.info("outbox: %s", report)
        elif report.claimed:
            log.debug("outbox: %s", report)
        return report

    async def record(self) -> bool:
        """Write the outcomes not yet written, in one transaction; False (kept for the next
        write, their rows still leased) when the database refuses."""
        outcomes = self._outcomes.take()
        if not outcomes:
            return True
        try:
            await outbox.record(self.sessionmaker, outcomes)
        except Exception:
            self._outcomes.put_back(outcomes)
            log.exception("outbox: recording %d outcomes failed", len(outcomes.row_ids()))
            return False
        return True

    def _look_due(self) -> bool:
        now = self.clock()
        return now >= self._next_look or bool(self._retries and now >= self._retries[0])

    def _plan(self, found: int) -> None:
        """When the tick asks the database next: at once after work (rows may wait behind
        their chat, broadcasts go on), then after 1, 2, 4 … MAX_LOOK seconds of nothing."""
        now = self.clock()
        while self._retries and now >= self._retries[0]:
            heapq.heappop(self._retries)
        self._quiet = 0 if found else self._quiet + 1
        self._next_look = now + min(MAX_LOOK, 2.0 ** (self._quiet - 1)) if self._quiet else now

    def _due_again(self, at: datetime | None) -> None:
        """A row of ours is due again at `at`: the tick looks then, whatever the backoff."""
        if at is None:
            return
        heapq.heappush(self._retries, self.clock() + max((at - utcnow()).total_seconds(), 0))

    async def _send_rows(self, rows: list[outbox.Outgoing], report: SendReport) -> None:
        by_chat: dict[int, list[outbox.Outgoing]] = {}
        for row in rows:
            by_chat.setdefault(row.chat_id, []).append(row)
        if by_chat:
            await asyncio.gather(*(self._send_chat(chat, report) for chat in by_chat.values()))

    async def _send_chat(self, rows: list[outbox.Outgoing], report: SendReport) -> None:
        blocked = False
        for index, row in enumerate(rows):
            try:
                if blocked:  # found unreachable a moment ago: no need to ask Telegram again
                    self._outcomes.mark_skipped(row.id, "the chat is unreachable")
                    report.skipped += 1
                    continue
                outcome = await self._send_one(row, report)
            except Exception:  # unforeseen: the row keeps its lease, due again when it ends
                log.exception("outbox: notification %s could not be sent", row.id)
                outcome = WAIT
            if outcome == WAIT:
                # Later rows of this chat wait for the next run, keeping their order; the
                # claim skips them while an earlier one is waiting for its retry.
                self._release(rows[index + 1 :])
                return
            blocked = outcome == BLOCKED

    async def _renew(self, row_ids: list[int]) -> None:
        """Keep the lease of this pass's rows while it works (until cancelled), and of rows
        whose outcome is not written yet."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            try:
                held = sorted({*row_ids, *self._outcomes.row_ids()})
                await outbox.renew(self.sessionmaker, held, self.lease)
            except Exception:  # the next renewal tries again; the lease still holds a while
                log.exception("outbox: renewing the lease of %d rows failed", len(row_ids))

    def _release(self, rows: list[outbox.Outgoing]) -> None:
        for row in rows:
            self._outcomes.postpone(row.id, 0)

    async def _send_one(self, row: outbox.Outgoing, report: SendReport) -> str:
        """Send one row and record the outcome: DONE, WAIT (the chat's next rows wait for
        the next run) or BLOCKED (the chat cannot be reached)."""
        if row.blocked:
            self._outcomes.mark_skipped(row.id, "the user has blocked the bot")
            report.skipped += 1
            return BLOCKED
        if row.broadcast_id is not None:
            message = self._broadcasts.get(row.broadcast_id)
            if message is None or message.status != broadcast.SENDING:
                self._outcomes.mark_skipped(row.id, broadcast.CANCELLED_REASON)
                report.skipped += 1
                return DONE
            to_send = partial(send_broadcast, self.bot, row.chat_id, message)
            return await self._deliver(row, report, to_send)
        try:
            text = self.render(row.language, row.kind, row.payload)
            markup = self.keyboard(row.language, row.kind, row.payload) if self.keyboard else None
        except UnknownNotification as exc:
            self._outcomes.mark_skipped(row.id, f"unknown kind: {exc}")
            report.skipped += 1
            return DONE
        except Exception as exc:
            log.exception("outbox: rendering notification %s failed", row.id)
            self._due_again(self._outcomes.mark_failed(row, f"render: {exc!r}"))
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
                self._due_again(self._outcomes.postpone(row.id, self.pacer.paused_for()))
                report.postponed += 1
                return WAIT
            try:
                await send()
            except TelegramRetryAfter as exc:
                report.waited += 1
                metrics.TELEGRAM_RATE_LIMITED.inc()
                self.pacer.pause(exc.retry_after)
                if exc.retry_after > MAX_INLINE_WAIT:
                    self._due_again(self._outcomes.postpone(row.id, exc.retry_after, exc.message))
                    report.postponed += 1
                    return WAIT
                log.info("outbox: Telegram asks to wait %s s", exc.retry_after)
                continue  # the same message again, once the pause is over
            except Exception as exc:
                return await self._failed(row, exc, report)
            self._outcomes.mark_sent(row.id)
            report.sent += 1
            metrics.OUTBOX_SENT.inc()
            return DONE

    async def _failed(self, row: outbox.Outgoing, exc: Exception, report: SendReport) -> str:
        reason = f"{type(exc).__name__}: {exc}"
        if unreachable(exc):
            log.info("outbox: chat %s is unreachable (%s); marked blocked", row.chat_id, exc)
            metrics.TELEGRAM_BLOCKED.inc()
            self._outcomes.mark_skipped(row.id, reason, block_chat=row.chat_id)
            report.skipped += 1
            return BLOCKED
        if row.broadcast_id is not None and isinstance(exc, TelegramBadRequest):
            # Telegram refuses this message itself: retrying would not change its mind.
            self._outcomes.mark_skipped(row.id, reason)
            report.skipped += 1
            return DONE
        log.warning("outbox: sending notification %s failed: %s", row.id, reason)
        self._due_again(self._outcomes.mark_failed(row, reason))
        report.failed += 1
        metrics.OUTBOX_FAILED.inc()
        return WAIT
