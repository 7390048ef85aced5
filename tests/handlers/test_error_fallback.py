"""The "Something went wrong" answer never depends on the session that failed."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from db.models import User
from handlers.menu import LanguageCallback
from tests.harness.databases import BACKENDS
from tests.harness.dispatcher import TgChat

if TYPE_CHECKING:
    from bot.app import App

WENT_WRONG = "Something went wrong"


pytestmark = pytest.mark.parametrize("database_url", BACKENDS, indirect=True)


async def refuse_writes_to_users(app: App) -> None:
    """The database refuses the next write to the users table (a full disk, a lost lock...)."""
    async with app.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            await conn.exec_driver_sql(
                "CREATE TRIGGER refuse_users BEFORE UPDATE ON users "
                "BEGIN INSERT INTO no_space_left VALUES (1); END"
            )
            return
        await conn.exec_driver_sql(
            "CREATE FUNCTION refuse_users() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'no space left on device'; END $$"
        )
        await conn.exec_driver_sql(
            "CREATE TRIGGER refuse_users BEFORE UPDATE ON users "
            "FOR EACH ROW EXECUTE FUNCTION refuse_users()"
        )


async def test_a_failed_write_still_answers_the_button_in_the_users_language(
    app: App, chat: Callable[..., TgChat]
) -> None:
    alice = chat(1001, language_code="ru")
    await alice.send("/start")
    await refuse_writes_to_users(app)
    reply = await alice.press(LanguageCallback(code="en").pack())
    [alert] = reply.alerts
    assert alert.show_alert and alert.text and "Что-то пошло не так" in alert.text
    async with app.sessionmaker() as session:
        user = await session.scalar(select(User).where(User.id == 1001))
        assert user is not None and user.language == "ru"  # nothing changed


async def test_a_failed_write_still_answers_a_message(
    app: App, chat: Callable[..., TgChat]
) -> None:
    bob = chat(1002, first_name="Bob")
    await bob.send("/start")
    await refuse_writes_to_users(app)
    renamed = chat(1002, first_name="Robert")  # his new name is saved on his next message
    reply = await renamed.send("/balance")
    assert WENT_WRONG in reply.text
