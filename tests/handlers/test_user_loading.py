"""The user row only where a handler needs it (bot.middlewares): an update from a known
customer costs no statement before its handler, yet first contact, a changed name, a new
language and a customer back after blocking the bot are all seen, here at once and on another
replica within the bound."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event, select, update

from bot.app import App
from bot.middlewares import UserMiddleware
from db.engine import write_tx
from db.models import User
from tests.fakes.provider_server import FakeProvider
from tests.harness.apps import chat_on
from tests.harness.order_seed import seed_catalog

ALICE = 1001


async def row(app: App, user_id: int = ALICE) -> User | None:
    async with app.sessionmaker() as session:
        return await session.scalar(select(User).where(User.id == user_id))


def counter(app: App) -> Callable[[Callable[[], Awaitable[Any]]], Awaitable[int]]:
    async def count(step: Callable[[], Awaitable[Any]]) -> int:
        statements: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements.append(statement)

        event.listen(app.engine.sync_engine, "before_cursor_execute", seen)
        try:
            await step()
        finally:
            event.remove(app.engine.sync_engine, "before_cursor_execute", seen)
        return len(statements)

    return count


async def test_a_known_customer_costs_no_statement_until_a_handler_needs_the_row(app, chat) -> None:
    await seed_catalog(app.sessionmaker, provider_url=FakeProvider.closed_url())
    count = counter(app)
    alice = chat(ALICE)
    assert await count(lambda: alice.send("/start")) > 0  # first contact: registered
    assert await row(app) is not None
    await alice.send("/neworder")  # the catalogue cache's first read
    assert await count(lambda: alice.send("/neworder")) == 0
    assert await count(lambda: alice.press_button("Instagram")) == 0
    assert "Balance: 0.00 USD" in (await alice.send("/balance")).text  # needs the row: read


async def test_a_new_name_a_new_language_and_a_return_after_blocking_are_seen(app, chat) -> None:
    alice = chat(ALICE)
    await alice.send("/start")
    await chat(ALICE, first_name="Alicia", username="alicia").send("/help")
    user = await row(app)
    assert user is not None and (user.first_name, user.username) == ("Alicia", "alicia")

    alicia = chat(ALICE, first_name="Alicia", username="alicia")
    await alicia.send("/language")
    await alicia.press_button("Русский")
    assert "Как выглядит ссылка" in (await alicia.send("/help")).text  # at the next update
    assert (await row(app)).language == "ru"  # type: ignore[union-attr]

    async with app.sessionmaker() as session, write_tx(session):  # as the outbox marks it
        await session.execute(update(User).where(User.id == ALICE).values(is_blocked=True))
    await alicia.send("/help")
    assert not (await row(app)).is_blocked  # type: ignore[union-attr]


# --- two replicas on one database ---------------------------------------------------------


def known_users_of(app: App) -> Any:
    [middleware] = [m for m in app.dp.update.outer_middleware if isinstance(m, UserMiddleware)]
    return middleware.known


async def test_a_language_set_on_one_replica_reaches_the_other_within_the_bound(
    replicas: tuple[App, App],
) -> None:
    one, other = replicas
    now = [1000.0]
    known = known_users_of(other)
    known.watch.clock = lambda: now[0]
    here, there = chat_on(one), chat_on(other)
    english = (await there.send("/help")).text
    await here.send("/language")
    await here.press_button("Русский")
    now[0] += known.watch.check_every / 2
    assert (await there.send("/help")).text == english  # within the bound: remembered
    now[0] += known.watch.check_every
    assert "Как выглядит ссылка" in (await there.send("/help")).text

    async with one.sessionmaker() as session, write_tx(session):  # the outbox on replica one
        await session.execute(update(User).where(User.id == ALICE).values(is_blocked=True))
    now[0] += known.watch.check_every + 0.01
    await there.send("/help")
    assert not (await row(other)).is_blocked  # type: ignore[union-attr]
