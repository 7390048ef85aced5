"""Pacing of Telegram sends (SPEC §9): ≤ 25 messages/s overall, ≤ 1 message/s per chat.

Sends are spaced evenly (a token bucket of capacity one) rather than allowed to burst, with
a small margin, so that the limits hold in every one-second window as Telegram measures
them, not just on average. A 429 pauses every send for its retry_after. With replicas
(Redis) SharedPacer takes the same slots from the shared clock of providers/ratelimit.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from providers.ratelimit import SlotClock

ALL_CHATS = "tg:all"
# Two replicas writing to one chat take their slots apart, but each send's latency differs:
# a wider gap between them (rare, rows are leased per chat) keeps 1/s as Telegram sees it.
REPLICA_JITTER = 0.25
MARGIN = 1.05  # 5 % slower than the limits: network jitter must not push us over


class Pacer:
    def __init__(
        self,
        per_second: float = 25.0,
        chat_interval: float = 1.0,
        *,
        margin: float = MARGIN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spacing = margin / per_second
        self.chat_interval = chat_interval * margin
        self._clock = clock
        self._next = 0.0  # earliest time of the next send overall
        self._chat_next: dict[int, float] = {}
        self._lock = asyncio.Lock()

    def pause(self, seconds: float) -> None:
        """Nothing is sent for `seconds` from now (Telegram's retry_after)."""
        self._next = max(self._next, self._clock() + seconds)

    def paused_for(self) -> float:
        """Seconds until the next send may go (0 when it may go now)."""
        return max(self._next - self._clock(), 0.0)

    async def wait(self, chat_id: int, *, give_up_after: float | None = None) -> bool:
        """Wait for this chat's turn, then for a slot overall; the send may go right after.

        With `give_up_after`, returns False at once (taking no slot) when the wait would be
        longer, as after a long retry_after; True otherwise.

        Sends to one chat are expected to come from one task at a time (the sender keeps one
        task per chat), so only the overall slot needs the lock.
        """
        chat_wait = self._chat_next.get(chat_id, 0.0) - self._clock()
        if chat_wait > 0:
            await asyncio.sleep(chat_wait)
        async with self._lock:
            while True:
                now = self._clock()
                slot = max(now, self._next)
                if slot <= now:
                    break
                if give_up_after is not None and slot - now > give_up_after:
                    return False
                await asyncio.sleep(slot - now)
            self._next = now + self.spacing
        self._chat_next[chat_id] = now + self.chat_interval
        self._forget_idle(now)
        return True

    def _forget_idle(self, now: float) -> None:
        if len(self._chat_next) > 10_000:
            self._chat_next = {c: t for c, t in self._chat_next.items() if t > now}


class SharedPacer(Pacer):
    """The same limits for the bot as a whole: slots taken from a clock every replica shares
    (Redis), so N replicas together still send ≤ 25 messages/s and ≤ 1/s per chat."""

    def __init__(
        self,
        slots: SlotClock,
        per_second: float = 25.0,
        chat_interval: float = 1.0,
        *,
        margin: float = MARGIN,
    ) -> None:
        super().__init__(per_second, chat_interval, margin=margin)
        self.slots = slots
        self._pauses: set[asyncio.Task[None]] = set()

    def pause(self, seconds: float) -> None:
        super().pause(seconds)
        task = asyncio.get_running_loop().create_task(self.slots.pause(ALL_CHATS, seconds))
        self._pauses.add(task)
        task.add_done_callback(self._pauses.discard)

    async def wait(self, chat_id: int, *, give_up_after: float | None = None) -> bool:
        """This chat's turn (timed from this process's last actual send to it), a slot
        overall, then the chat's shared slot (another replica may just have written to it:
        rare, rows are leased per chat)."""
        if give_up_after is not None and self.paused_for() > give_up_after:
            return False
        chat_wait = self._chat_next.get(chat_id, 0.0) - self._clock()
        if chat_wait > 0:
            await asyncio.sleep(chat_wait)
        wait = await self.slots.reserve(ALL_CHATS, self.spacing, max_wait=give_up_after)
        if wait is None:
            return False
        if wait:
            await asyncio.sleep(wait)
        spacing = self.chat_interval + REPLICA_JITTER
        chat_wait = await self.slots.reserve(f"tg:chat:{chat_id}", spacing) or 0.0
        if chat_wait:
            await asyncio.sleep(chat_wait)
        now = self._clock()
        self._chat_next[chat_id] = now + self.chat_interval
        self._forget_idle(now)
        return True
