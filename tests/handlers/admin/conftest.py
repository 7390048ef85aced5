"""Admin console fixtures: the admin's and the customer's chats, a FakeProvider over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from aiogram.methods import EditMessageText, SendMessage

from tests.fakes.provider_server import FakeProvider
from tests.fakes.telegram_server import html_to_text
from tests.harness.console import API_KEY
from tests.harness.dispatcher import TgChat
from tests.harness.settings import ADMIN_ID, CUSTOMER


@pytest.fixture(autouse=True)
def telegram_accepts_every_message(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test: every text the bot sent parses as Telegram HTML and fits 4096 chars."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")  # set up first, so torn down after this check
    yield
    for call in app.bot.session.calls:
        if isinstance(call, SendMessage | EditMessageText):
            assert len(call.text) <= 4096, call.text[:200]
            html_to_text(call.text)  # raises like Telegram on a bare "<" or a broken tag


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with FakeProvider(api_key=API_KEY) as fp:
        yield fp


@pytest.fixture
def admin(chat: Callable[..., TgChat]) -> TgChat:
    return chat(ADMIN_ID, first_name="Owner", username="owner")


@pytest.fixture
def customer(chat: Callable[..., TgChat]) -> TgChat:
    return chat(CUSTOMER, first_name="Alice", username="alice")
