"""aiogram's Response[T] classes stay built: answers after a garbage collection cost no
pydantic model build (they were rebuilt several times per order under load)."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from aiogram.methods.base import Response

from bot.response_types import keep_response_types
from tests.fakes.telegram_server import FakeTelegram


async def test_bot_api_answers_build_no_models_after_garbage_collection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert keep_response_types() > 20
    builds: list[type[Any]] = []
    monkeypatch.setattr(
        Response, "__pydantic_init_subclass__", classmethod(lambda cls, **_: builds.append(cls))
    )
    async with FakeTelegram() as fake:
        alice = fake.user(1001)
        await alice.send("/start")
        bot = fake.create_bot()
        try:
            for i in range(30):
                gc.collect()
                await bot.get_me()
                await bot.send_message(1001, f"hello {i}")
                await bot.get_updates(timeout=0)
        finally:
            await bot.session.close()
    assert builds == []


def test_the_counter_sees_a_build() -> None:
    """The hook above does count builds: a fresh parametrization is one."""
    seen: list[type[Any]] = []
    original = Response.__dict__.get("__pydantic_init_subclass__")
    Response.__pydantic_init_subclass__ = classmethod(lambda cls, **_: seen.append(cls))  # type: ignore[method-assign,assignment]
    try:
        gc.collect()
        Response[list[tuple[int, str, float]]]
    finally:
        if original is None:
            del Response.__pydantic_init_subclass__
        else:
            Response.__pydantic_init_subclass__ = original  # type: ignore[method-assign]
    assert len(seen) == 1
