"""Stopping the scheduler lets a run in flight finish (bounded) instead of cutting it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from scheduler.setup import PeriodicJob, create_scheduler


async def test_a_run_in_flight_finishes_before_stop_returns() -> None:
    started, finished = asyncio.Event(), asyncio.Event()

    async def slow_job() -> None:
        started.set()
        await asyncio.sleep(0.5)  # e.g. between a Telegram send and recording it
        finished.set()

    scheduler = create_scheduler([PeriodicJob("slow", slow_job, 0.1)])
    scheduler.start()
    await asyncio.wait_for(started.wait(), 5)
    await scheduler.stop(grace=5)
    assert finished.is_set()
    await asyncio.sleep(0)  # AsyncIOScheduler.shutdown runs on the next loop turn
    assert not scheduler.running


async def test_a_run_past_the_grace_is_cancelled() -> None:
    started = asyncio.Event()

    async def stuck_job() -> None:
        started.set()
        await asyncio.sleep(60)

    scheduler = create_scheduler([PeriodicJob("stuck", stuck_job, 0.1)])
    scheduler.start()
    await asyncio.wait_for(started.wait(), 5)
    await asyncio.wait_for(scheduler.stop(grace=0.2), 5)
    await asyncio.sleep(0)
    assert not scheduler.running


async def test_a_job_woken_while_it_runs_runs_once_more_and_never_twice_at_once() -> None:
    """run_soon starts a woken job at once; a wake during its run is not lost (the run goes
    once more) and never starts a second run beside it."""
    runs, overlapping, release = [], [], asyncio.Event()
    wakers: list[Callable[[], None]] = []

    async def job() -> None:
        overlapping.append(runs.count("started") - runs.count("done"))
        runs.append("started")
        if len(runs) == 1:
            await release.wait()
        runs.append("done")

    scheduler = create_scheduler([PeriodicJob("woken", job, 3600, woken_by=wakers.append)])
    scheduler.start()
    try:
        [wake] = wakers
        wake()
        await asyncio.sleep(0.05)
        assert runs == ["started"]
        wake()  # while it runs
        wake()
        await asyncio.sleep(0.05)
        assert runs == ["started"]  # not beside it
        release.set()
        for _ in range(100):
            if runs.count("done") == 2:
                break
            await asyncio.sleep(0.01)
        assert runs == ["started", "done", "started", "done"]  # once more, once only
        assert overlapping == [0, 0]
    finally:
        await scheduler.stop(grace=1)
