"""Per-provider pacing: a token bucket plus a pause after a 429.

Panels do not document limits, but several ban keys or IPs that burst (S8, S13, S20), so
each provider gets its own steady request rate; a 429 pauses every caller of that provider,
not only the one that was refused.
"""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """Allows ``rate`` requests per second on average, bursts up to ``capacity``."""

    def __init__(self, rate: float, capacity: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = capacity if capacity is not None else max(1.0, rate)
        self._tokens = self.capacity
        self._updated = time.monotonic()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    def pause(self, seconds: float) -> None:
        """Hold every acquire() for ``seconds`` from now (e.g. after Retry-After)."""
        self._paused_until = max(self._paused_until, time.monotonic() + max(0.0, seconds))

    async def acquire(self) -> None:
        """Wait until a request may be sent, then spend one token."""
        async with self._lock:
            while True:
                now = time.monotonic()
                if now < self._paused_until:
                    await asyncio.sleep(self._paused_until - now)
                    continue
                self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)
