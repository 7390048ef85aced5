"""Update-level middlewares: a database session per update and the current user.

The user costs a statement only where it must: an update from a customer the process knows
(registered, reachable, same names as last time) is handled with the language remembered
(KnownUsers); the `user` row itself is read only for a handler that declares it
(UserRowMiddleware). First contact, a changed name and a customer back after blocking the
bot still go through core.users.ensure_user, as every update did before.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from aiogram.types import User as TgUser
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import pick_language
from core.users import ensure_user
from db.cache_versions import USERS, VersionWatch
from db.models import User

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

# Seconds another replica's change of a customer's language, names or blocked flag can go
# unseen here (one one-row read per interval, whatever the traffic).
CHECK_EVERY = 1.0
KNOWN_LIMIT = 100_000  # customers remembered; past it the memory starts again


class DbSessionMiddleware(BaseMiddleware):
    """One AsyncSession per update; core functions open their own short write transactions."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with self.sessionmaker() as session:
            data["session"] = session
            return await handler(event, data)


@dataclass(frozen=True, slots=True)
class KnownUser:
    first_name: str
    username: str | None
    language: str | None


class KnownUsers:
    """Customers registered and reachable, with what an update needs before its handler.

    Any committed change of a customer's language, names or blocked flag raises the users
    version (db.cache_versions) and empties this memory: at once in this process, within
    `check_every` seconds on the other replicas.
    """

    def __init__(
        self, *, check_every: float = CHECK_EVERY, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.watch = VersionWatch(USERS, check_every=check_every, clock=clock)
        self._users: dict[int, KnownUser] = {}
        self._version: int | None = None

    async def get(self, session: AsyncSession, user_id: int) -> KnownUser | None:
        if self.watch.due(session.get_bind()):
            version = await self.watch.version(session)
            if version != self._version:
                self._users.clear()
                self._version = version
        return self._users.get(user_id)

    def remember(self, user: User) -> None:
        if user.is_blocked:
            return
        if len(self._users) >= KNOWN_LIMIT:
            self._users.clear()
        self._users[user.id] = KnownUser(user.first_name, user.username, user.language)


def _register(session: AsyncSession, tg_user: TgUser, i18n: I18n) -> Awaitable[User]:
    return ensure_user(
        session,
        tg_user.id,
        first_name=tg_user.first_name or "",
        username=tg_user.username,
        language=pick_language(i18n, tg_user.language_code),
    )


class UserMiddleware(BaseMiddleware):
    """Registers the sender on first contact (or refreshes their row when something about
    them changed) and sets `user_language`; `user` too when the row was read."""

    def __init__(self, i18n: I18n, known: KnownUsers | None = None) -> None:
        self.i18n = i18n
        self.known = known or KnownUsers()

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        tg_user = data.get("event_from_user")
        if tg_user is not None and not tg_user.is_bot:
            session = data["session"]
            known = await self.known.get(session, tg_user.id)
            if known is not None and (known.first_name, known.username) == (
                tg_user.first_name or "",
                tg_user.username,
            ):
                data["user_language"] = known.language
            else:
                user = await _register(session, tg_user, self.i18n)
                self.known.remember(user)
                data["user"] = user
                # A plain copy for the error path: after a failed write the row is expired
                # and its session closed, and "Something went wrong" must still find it.
                data["user_language"] = user.language
        return await handler(event, data)


class UserRowMiddleware(BaseMiddleware):
    """Inner: the `user` row for a handler that declares it, read only then."""

    def __init__(self, i18n: I18n) -> None:
        self.i18n = i18n

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        wanted = data.get("handler")
        tg_user = data.get("event_from_user")
        if (
            "user" not in data
            and wanted is not None
            and "user" in wanted.params
            and tg_user is not None
            and not tg_user.is_bot
        ):
            data["user"] = await _register(data["session"], tg_user, self.i18n)
        return await handler(event, data)
