"""APScheduler 3.x in the bot's event loop: started on dp.startup, stopped on dp.shutdown."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_RUNNING

log = logging.getLogger(__name__)

JobFunc = Callable[[], Awaitable[Any]]


@dataclass
class PeriodicJob:
    id: str
    func: JobFunc
    seconds: float
    kwargs: dict[str, Any] = field(default_factory=dict)
    # Handed the scheduler's way to start this job at once (between its ticks), to give it
    # to whatever signals new work for it.
    woken_by: Callable[[Callable[[], None]], None] | None = None


def guarded(
    job_id: str,
    func: JobFunc,
    running: set[asyncio.Task[Any]] | None = None,
    busy: set[str] | None = None,
    again: set[str] | None = None,
) -> JobFunc:
    """A failing job logs and tries again next time; it never takes the bot down.

    `running` tracks the runs in flight, so that shutdown can wait for them; `busy` the
    jobs in flight, so that a run started at once never overlaps a tick's run; a job put in
    `again` meanwhile runs once more before its run ends (its wake is never lost).
    """

    async def run() -> None:
        if busy is not None:
            if job_id in busy:
                return
            busy.add(job_id)
        task = asyncio.current_task()
        if running is not None and task is not None:
            running.add(task)
        try:
            while True:
                await func()
                if again is None or job_id not in again:
                    break
                again.discard(job_id)
        except Exception:
            log.exception("job %s failed; it runs again at its next interval", job_id)
        finally:
            if running is not None and task is not None:
                running.discard(task)
            if busy is not None:
                busy.discard(job_id)

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
        self.busy: set[str] = set()
        self.again: set[str] = set()
        self._now: dict[str, JobFunc] = {}  # the jobs that can be started at once

    def add_periodic(self, job: PeriodicJob) -> None:
        run = guarded(job.id, job.func, self.runs, self.busy, self.again)
        if job.woken_by is not None:
            self._now[job.id] = run
            job.woken_by(partial(self.run_soon, job.id))
        self.add_job(
            run, "interval", seconds=job.seconds, id=job.id, name=job.id, replace_existing=True
        )

    def run_soon(self, job_id: str) -> None:
        """Start a run of the job now; one in flight runs the job once more instead. Nothing
        when the scheduler is not running (not started, or stopping)."""
        run = self._now.get(job_id)
        if run is None or self.state != STATE_RUNNING:
            return
        if job_id in self.busy:
            self.again.add(job_id)
            return
        # A fresh context: the run must not carry the log fields of whoever woke it.
        task = asyncio.get_running_loop().create_task(
            run(), name=f"job {job_id}", context=contextvars.Context()
        )
        self.runs.add(task)
        task.add_done_callback(self.runs.discard)

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
        scheduler.add_periodic(job)
    return scheduler
