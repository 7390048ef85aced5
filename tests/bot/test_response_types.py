"""aiogram's Response[T] classes stay built: answers after a garbage collection cost no
pydantic model build (without the keeper they were rebuilt several times per order)."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from aiogram import Bot
from aiogram.methods.base import Response

from bot import response_types
from bot.response_types import keep_response_types
from tests.fakes.telegram_server import FakeTelegram


async def builds_over_many_calls(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> int:
    """Model builds counted over 5 rounds of calls, each after a garbage collection."""
    await bot.get_me()
    await bot.get_webhook_info()
    builds: list[type[Any]] = []
    with monkeypatch.context() as patch:
        patch.setattr(
            Response,
            "__pydantic_init_subclass__",
            classmethod(lambda cls, **_: builds.append(cls)),
        )
        for _ in range(5):
            gc.collect()
            await bot.get_me()
            await bot.get_webhook_info()
    return len(builds)


async def test_bot_api_answers_build_no_models_after_garbage_collection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with FakeTelegram() as fake:
        kept, plain = fake.create_bot(), fake.create_bot()
        keep_response_types(kept)
        try:
            # Without a keeper (and nothing kept by earlier tests) the counter sees rebuilds.
            # Dropped, not swapped: a saved copy would keep them alive. The keeper fills it again.
            response_types._KEPT.clear()
            assert await builds_over_many_calls(plain, monkeypatch) > 0
            assert await builds_over_many_calls(kept, monkeypatch) == 0
        finally:
            await kept.session.close()
            await plain.session.close()
