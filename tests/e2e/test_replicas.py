"""Two replicas sharing Redis: FSM state and per-user event isolation live in Redis (SPEC §8)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage

from tests.harness.apps import replicas


def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        if os.environ.get("REQUIRE_REDIS"):
            pytest.fail("REQUIRE_REDIS is set but TEST_REDIS_URL is not")
        pytest.skip("TEST_REDIS_URL not set")
    return url


async def test_replicas_share_fsm_state_through_redis(database_url: str, tmp_path: Path) -> None:
    async with replicas(database_url, redis_url=redis_url()) as (first, second):
        try:
            assert isinstance(first.dp.storage, RedisStorage)
            assert isinstance(first.dp.fsm.events_isolation, RedisEventIsolation)
            key = StorageKey(bot_id=first.bot.id, chat_id=4242, user_id=4242)
            await first.dp.storage.set_state(key, "OrderFlow:link")
            await first.dp.storage.set_data(key, {"service_id": 7})
            assert await second.dp.storage.get_state(key) == "OrderFlow:link"
            assert await second.dp.storage.get_data(key) == {"service_id": 7}
            await second.dp.storage.set_state(key, None)
            await second.dp.storage.set_data(key, {})
        finally:
            for app in (first, second):
                await app.dp.storage.close()
