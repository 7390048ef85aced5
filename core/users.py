"""Customer accounts."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.engine import write_tx
from db.models import User


async def ensure_user(
    session: AsyncSession,
    user_id: int,
    *,
    first_name: str,
    username: str | None,
    language: str,
) -> User:
    """Load the user, registering them on first contact and refreshing their names.

    A user who had blocked the bot and writes again is reachable again.
    """
    user = await session.get(User, user_id)
    if user is not None and not _needs_update(user, first_name, username):
        return user
    try:
        async with write_tx(session):
            user = await session.get(User, user_id, populate_existing=True)
            if user is None:
                user = User(id=user_id, first_name=first_name, username=username, language=language)
                session.add(user)
            else:
                user.first_name, user.username, user.is_blocked = first_name, username, False
    except IntegrityError:  # registered concurrently by another replica
        user = await session.get(User, user_id, populate_existing=True)
        assert user is not None
    return user


def _needs_update(user: User, first_name: str, username: str | None) -> bool:
    return user.is_blocked or user.first_name != first_name or user.username != username


async def set_language(session: AsyncSession, user_id: int, language: str) -> None:
    async with write_tx(session):
        user = await session.get(User, user_id)
        if user is not None:
            user.language = language
