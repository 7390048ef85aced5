"""The admins' list of open tickets: longest waiting first, each with its last message."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import support
from db.engine import write_tx
from db.models import User
from tests.harness.databases import BACKENDS

ADMIN, ALICE, BOB, CAROL = 9001, 1001, 1002, 1003


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
async def test_open_tickets_longest_waiting_first_with_their_last_message(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        async with write_tx(session):
            for uid, name in ((ALICE, "Alice"), (BOB, "Bob"), (CAROL, "Carol"), (ADMIN, "O")):
                session.add(User(id=uid, first_name=name))
        assert await support.open_tickets(session) == []

        async def writes(uid: int, text: str) -> int:
            relayed = await support.customer_writes(
                session, uid, text, source_key=f"{uid}:{text}", admin_ids=frozenset({ADMIN}),
                per_hour=10,
            )  # fmt: skip
            return relayed.ticket_id

        bob = await writes(BOB, "b1")
        alice = await writes(ALICE, "a1")
        carol = await writes(CAROL, "c1")
        await writes(BOB, "b2")  # Bob's ticket has waited less than Alice's now
        await support.admin_answers(session, alice, ADMIN, "on it", source_key="admin:1")
        await writes(ALICE, "a2")
        assert await support.close_ticket(session, carol, ADMIN)

        views = await support.open_tickets(session)
        assert [view.ticket.id for view in views] == [bob, alice]
        assert [view.user.first_name for view in views] == ["Bob", "Alice"]
        assert [[m.text for m in view.messages] for view in views] == [["b2"], ["a2"]]
        assert [view.total for view in views] == [2, 3]
        assert [v.ticket.id for v in await support.open_tickets(session, limit=1)] == [bob]
        assert await support.open_ticket_count(session) == 2
