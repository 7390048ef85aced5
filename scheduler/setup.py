"""APScheduler 3.x in the bot's event loop: started on dp.startup, stopped on dp.shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

JobFunc = Callable[[], Awaitable[Any]]


@dataclass
class PeriodicJob:
    id: str
    func: JobFunc
    seconds: float
    kwargs: dict[str, Any] = field(default_factory=dict)


def guarded(job_id: str, func: JobFunc, running: set[asyncio.Task[Any]] | None = None) -> JobFunc:
    """A failing job logs and tries again next time; it never takes the bot down.

    `running` tracks the runs in flight, so that shutdown can wait for them.
    """

    async def run() -> None:
        task = asyncio.current_task()
        if running is not None and task is not None:
            running.add(task)
        try:
            await func()
        except Exception:
            log.exception("job %s failed; it runs again at its next interval", job_id)
        finally:
            if running is not None and task is not None:
                running.discard(task)

    run.__name__ = run.__qualname__ = f"job_{job_id}"
    return run


class _SkippedTickFilter(logging.Filter):
    """max_instances=1 is deliberate: a tick that finds its job still running (a long send
    batch, a slow provider) is expected, not worth a warning every second."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


_SKIPPED_TICKS = _SkippedTickFilter()


class PanelScheduler(AsyncIOScheduler):
    """AsyncIOScheduler that knows its runs in flight and lets them finish on stop."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.runs: set[asyncio.Task[Any]] = set()

    async def stop(self, grace: float = 10.0) -> None:
        """No new runs, then let the runs in flight finish their transaction (bounded), so
        stopping never cuts a job between a provider's answer and its database write.

        Paused first and shut down only after the wait: APScheduler's asyncio executor cancels
        every run in flight on shutdown (whatever `wait` says), which cut the outbox sender
        between a send and its record, so the message went again after a restart."""
        if not self.running:
            return
        self.pause()
        in_flight = {task for task in self.runs if not task.done()}
        late: set[asyncio.Task[Any]] = set()
        if in_flight:
            _, late = await asyncio.wait(in_flight, timeout=grace)
        for task in late:
            task.cancel()
        if late:
            log.warning("%d job run(s) cancelled at shutdown", len(late))
        self.shutdown(wait=False)


def create_scheduler(
    jobs: list[PeriodicJob], runs: set[asyncio.Task[Any]] | None = None
) -> PanelScheduler:
    """`runs`: the set the jobs' own background runs join (see build_jobs)."""
    logging.getLogger("apscheduler.scheduler").addFilter(_SKIPPED_TICKS)  # idempotent
    scheduler = PanelScheduler(
        job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 30}
    )
    if runs is not None:
        scheduler.runs = runs
    for job in jobs:
        scheduler.add_job(
            guarded(job.id, job.func, scheduler.runs),
            "interval",
            seconds=job.seconds,
            id=job.id,
            name=job.id,
            replace_existing=True,
        )
    return scheduler
