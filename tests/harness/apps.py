"""The real app in tests: with a Bot that records its calls (dispatcher tests), alone or as two
replicas on one database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from bot.app import App, create_app
from tests.harness.dispatcher import TgChat, make_user
from tests.harness.recording_session import RecordingSession
from tests.harness.settings import CUSTOMER, make_settings


async def recording_app(database_url: str, **settings: object) -> App:
    """The real app (dispatcher, routers, middlewares) with a Bot that records its calls."""
    app = await create_app(make_settings(database_url, **settings), migrate=False)
    app.bot.session = RecordingSession()
    return app


def chat_on(app: App, user_id: int = CUSTOMER, **user: Any) -> TgChat:
    """A private chat with that user on `app` (a recording_app), driven through feed_update."""
    session = app.bot.session
    assert isinstance(session, RecordingSession)
    return TgChat(app.dp, app.bot, session, make_user(user_id, **user))  # type: ignore[arg-type]


@asynccontextmanager
async def replicas(database_url: str, **settings: object) -> AsyncIterator[tuple[App, App]]:
    """Two recording apps on one database, as two replicas of the panel see it."""
    async with AsyncExitStack() as stack:
        apps = []
        for _ in range(2):
            app = await recording_app(database_url, **settings)
            stack.push_async_callback(app.close)
            apps.append(app)
        yield apps[0], apps[1]
