"""Stopping the scheduler lets a run in flight finish (bounded) instead of cutting it."""

from __future__ import annotations

import asyncio

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
