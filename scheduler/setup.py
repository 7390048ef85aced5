"""APScheduler 3.x in the bot's event loop: started on dp.startup, stopped on dp.shutdown."""

from __future__ import annotations

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


def guarded(job_id: str, func: JobFunc) -> JobFunc:
    """A failing job logs and tries again next time; it never takes the bot down."""

    async def run() -> None:
        try:
            await func()
        except Exception:
            log.exception("job %s failed; it runs again at its next interval", job_id)

    run.__name__ = run.__qualname__ = f"job_{job_id}"
    return run


class _SkippedTickFilter(logging.Filter):
    """max_instances=1 is deliberate: a tick that finds its job still running (a long send
    batch, a slow provider) is expected, not worth a warning every second."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


_SKIPPED_TICKS = _SkippedTickFilter()


def create_scheduler(jobs: list[PeriodicJob]) -> AsyncIOScheduler:
    logging.getLogger("apscheduler.scheduler").addFilter(_SKIPPED_TICKS)  # idempotent
    scheduler = AsyncIOScheduler(
        job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 30}
    )
    for job in jobs:
        scheduler.add_job(
            guarded(job.id, job.func),
            "interval",
            seconds=job.seconds,
            id=job.id,
            name=job.id,
            replace_existing=True,
        )
    return scheduler
