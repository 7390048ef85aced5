"""Synchronous filters (magic filters such as `F.text`, a `State` given as a filter) are
checked on the event loop: aiogram would hand each one to a worker thread per update."""

from __future__ import annotations

import threading

from aiogram import Bot, Dispatcher, F, Router
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message

from bot.factory import run_sync_filters_inline
from tests.harness.dispatcher import TgChat, make_user
from tests.harness.recording_session import RecordingSession


class Flow(StatesGroup):
    waiting = State()


def all_filters(router: Router) -> list[object]:
    found = []
    for observer in router.observers.values():
        for handler in (observer._handler, *observer.handlers):
            found.extend(handler.filters or ())
    for sub_router in router.sub_routers:
        found.extend(all_filters(sub_router))
    return found


async def test_every_filter_of_the_app_is_checked_on_the_loop(app) -> None:
    filters = all_filters(app.dp)
    assert filters
    threaded = [f.callback for f in filters if not f.awaitable]  # type: ignore[attr-defined]
    assert not threaded, f"filters aiogram would run in a worker thread: {threaded}"


async def test_a_sync_filter_decides_on_the_loop_thread() -> None:
    seen: list[str] = []

    def on_loop(message: Message) -> bool:
        seen.append(threading.current_thread().name)
        return message.text == "yes"

    router = Router()
    answers: list[str] = []

    async def matched(message: Message, number: int) -> None:
        answers.append(f"matched {number}")

    async def in_flow(message: Message) -> None:
        answers.append("in flow")

    async def other(message: Message) -> None:
        answers.append("other")

    router.message.register(in_flow, Flow.waiting)
    # A filter's dict still reaches the handler; a falsy one still stops it.
    router.message.register(matched, on_loop, F.text.len().as_("number"))
    router.message.register(other)
    dp = Dispatcher()
    dp.include_router(router)
    run_sync_filters_inline(dp)
    session = RecordingSession()
    chat = TgChat(dp, Bot("123456:TEST-token", session=session), session, make_user(5))

    await chat.send("yes")
    await chat.send("no")
    state = dp.fsm.get_context(chat.bot, chat_id=5, user_id=5)
    await state.set_state(Flow.waiting)
    await chat.send("yes")

    assert answers == ["matched 3", "other", "in flow"]
    assert seen and set(seen) == {threading.main_thread().name}
