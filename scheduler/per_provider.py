"""Background work run per provider, so that one slow, hanging or huge-answering provider
delays no other (SPEC §5.4).

A periodic job (status sync, refill sync, balance and price watches) no longer waits for
every provider together: each tick starts one task per provider, skips a provider whose
previous run is still going, and cuts a run at its time bound. The tick itself returns at
once, so the job's ``max_instances=1`` never holds the other providers back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)


class PerProvider:
    """One job's runs, one task per provider; ``running`` is the scheduler's set of runs in
    flight, so that shutdown lets them finish (bounded) like any job run."""

    def __init__(self, name: str, bound: float, running: set[asyncio.Task[Any]]) -> None:
        self.name = name
        self.bound = bound
        self.running = running
        self.tasks: dict[int, asyncio.Task[Any]] = {}

    def launch(self, provider_ids: Iterable[int], work: Callable[[int], Awaitable[Any]]) -> int:
        """Start `work(provider_id)` for each provider not still busy; returns how many."""
        started = 0
        for provider_id in provider_ids:
            previous = self.tasks.get(provider_id)
            if previous is not None and not previous.done():
                continue
            task = asyncio.create_task(
                self._bounded(provider_id, work), name=f"{self.name}:{provider_id}"
            )
            self.tasks[provider_id] = task
            self.running.add(task)
            task.add_done_callback(self.running.discard)
            started += 1
        return started

    async def _bounded(self, provider_id: int, work: Callable[[int], Awaitable[Any]]) -> None:
        try:
            async with asyncio.timeout(self.bound):
                await work(provider_id)
        except TimeoutError:
            log.warning(
                "%s for provider %s cut after %.0f s; the rest waits for the next run",
                self.name,
                provider_id,
                self.bound,
            )
        except Exception:
            log.exception(
                "%s for provider %s failed; it runs again next time", self.name, provider_id
            )

    async def wait(self) -> None:
        """Until every run started so far has ended (tests, the benchmark)."""
        tasks = [t for t in self.tasks.values() if not t.done()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
