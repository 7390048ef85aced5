"""Pacing against a clock that may be shared by every replica (SPEC §5.4, §9).

A ``SlotClock`` hands out send times per key with the GCRA rule (a steady rate with an
allowed burst): ``LocalSlots`` in this process, ``RedisSlots`` in Redis, so that a limit holds
for the panel as a whole when several replicas run. Provider lanes use it here; the Telegram
outbox pacer (scheduler/pacing.py) uses the same clocks.

``Lane`` is one provider's pacing: at most ``concurrency`` requests in flight and ``rate``
requests per second, granted by priority (an ``add`` before refills/cancels before status
reads), so that when a lane is saturated customers' orders go first. A 429, or an answer
saying no requests remain until a reset, pauses the whole lane (every replica with Redis).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

log = logging.getLogger(__name__)

ADD, WRITE, READ = 0, 1, 2  # lane priorities: lower goes first


class SlotClock(Protocol):
    async def reserve(
        self, key: str, spacing: float, burst: int = 1, max_wait: float | None = None
    ) -> float | None:
        """Take the next slot of `key`; the seconds to wait before using it. None (nothing
        taken) when the wait would be longer than `max_wait`."""
        ...

    async def pause(self, key: str, seconds: float) -> None:
        """No slot of `key` before `seconds` from now."""
        ...


class LocalSlots:
    """GCRA in this process: TAT (theoretical arrival time) per key."""

    def __init__(self) -> None:
        self._tat: dict[str, float] = {}
        self._paused: dict[str, float] = {}

    def reserve_now(
        self, key: str, spacing: float, burst: int = 1, max_wait: float | None = None
    ) -> float | None:
        now = time.monotonic()
        tau = spacing * (max(burst, 1) - 1)
        tat = max(self._tat.get(key, now), now)
        wait = max(tat - tau - now, self._paused.get(key, 0.0) - now, 0.0)
        if max_wait is not None and wait > max_wait:
            return None
        self._tat[key] = max(tat, now + wait) + spacing
        if len(self._tat) > 20_000:
            self._tat = {k: t for k, t in self._tat.items() if t > now}
        return wait

    async def reserve(
        self, key: str, spacing: float, burst: int = 1, max_wait: float | None = None
    ) -> float | None:
        return self.reserve_now(key, spacing, burst, max_wait)

    async def pause(self, key: str, seconds: float) -> None:
        until = time.monotonic() + max(seconds, 0.0)
        self._paused[key] = max(self._paused.get(key, 0.0), until)


_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local spacing = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local paused = tonumber(redis.call('GET', KEYS[2]) or 0)
local wait = math.max(tat - tau - now, paused - now, 0)
if max_wait >= 0 and wait > max_wait then return -1 end
local new_tat = math.max(tat, now + wait) + spacing
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now + 1000))
return wait
"""
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
local paused = tonumber(redis.call('GET', KEYS[1]) or 0)
if until_ms > paused then
  redis.call('SET', KEYS[1], until_ms, 'PX', tonumber(ARGV[1]) + 1000)
end
return 1
"""


class RedisSlots:
    """GCRA in Redis (one Lua script, Redis's own clock): the limit holds across replicas.
    If Redis fails, the process falls back to its own clock rather than stop sending."""

    def __init__(self, redis: Any, prefix: str = "pace:") -> None:
        self.redis = redis
        self.prefix = prefix
        self._local = LocalSlots()
        self._reserve = redis.register_script(_RESERVE)
        self._pause = redis.register_script(_PAUSE)

    async def reserve(
        self, key: str, spacing: float, burst: int = 1, max_wait: float | None = None
    ) -> float | None:
        keys = [self.prefix + key, self.prefix + key + ":paused"]
        tau = spacing * (max(burst, 1) - 1)
        limit = -1 if max_wait is None else max_wait * 1000
        try:
            wait = await self._reserve(keys=keys, args=[spacing * 1000, tau * 1000, limit])
        except Exception as exc:  # Redis down: keep pacing in this process
            log.warning("shared pacing unavailable (%s); pacing locally", type(exc).__name__)
            return self._local.reserve_now(key, spacing, burst, max_wait)
        wait = float(wait)
        return None if wait < 0 else wait / 1000

    async def pause(self, key: str, seconds: float) -> None:
        await self._local.pause(key, seconds)
        try:
            await self._pause(keys=[self.prefix + key + ":paused"], args=[int(seconds * 1000)])
        except Exception as exc:
            log.warning("shared pause unavailable (%s)", type(exc).__name__)


class Lane:
    """One provider's requests: ``rate`` per second (bursts of ``burst``), ``concurrency`` in
    flight, granted by priority. Settable while running (``configure``)."""

    def __init__(
        self,
        key: str,
        rate: float,
        concurrency: int,
        *,
        burst: int | None = None,
        slots: SlotClock | None = None,
    ) -> None:
        self.key = key
        self.slots: SlotClock = slots or LocalSlots()
        self.configure(rate, concurrency, burst)
        self.in_flight = 0
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._freed = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None

    def configure(self, rate: float, concurrency: int, burst: int | None = None) -> None:
        if rate <= 0 or concurrency < 1:
            raise ValueError("rate must be positive and concurrency at least 1")
        self.rate, self.concurrency = float(rate), int(concurrency)
        self.burst = burst if burst is not None else max(1, int(rate))
        if getattr(self, "_freed", None) is not None:
            self._freed.set()  # a raised concurrency lets waiters in at once

    @property
    def waiting(self) -> int:
        return sum(1 for *_, future in self._waiting if not future.done())

    async def pause(self, seconds: float) -> None:
        """Hold every request of this lane for `seconds` (Retry-After, a rate-limit reset)."""
        if seconds > 0:
            await self.slots.pause(self.key, seconds)

    @asynccontextmanager
    async def turn(self, priority: int = READ) -> AsyncIterator[None]:
        """Wait for this request's slot; the request runs inside the block."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (priority, next(self._seq), future))
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._grant(), name=f"lane {self.key}")
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release()  # granted just as the caller gave up
            else:
                future.cancel()
            raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        self.in_flight -= 1
        self._freed.set()

    def _drop_abandoned(self) -> None:
        while self._waiting and self._waiting[0][2].done():
            heapq.heappop(self._waiting)

    async def _grant(self) -> None:
        """Grants turns one at a time: a free slot, then the next send time, then the most
        urgent waiter at that moment."""
        while True:
            self._drop_abandoned()
            if not self._waiting:
                return
            if self.in_flight >= self.concurrency:
                self._freed.clear()
                await self._freed.wait()
                continue
            wait = await self.slots.reserve(self.key, 1.0 / self.rate, self.burst)
            if wait:
                await asyncio.sleep(wait)
            self._drop_abandoned()
            if not self._waiting:
                return
            _, _, future = heapq.heappop(self._waiting)
            self.in_flight += 1
            future.set_result(None)
