"""A mass confirmation's edits coalesce: an edit not yet taken by the outbox sender is
replaced by the next one (the latest state), one being sent is left alone and the next is
kept for after it, so no answer is lost and no message is edited once per order."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import notify
from db.engine import create_engine, make_sessionmaker, write_tx
from db.models import Notification
from scheduler import outbox
from tests.harness.claims import claim_due

ALICE, BOB = 1001, 1002


@pytest.fixture
async def sm(any_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(any_database_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def edit(sm: async_sessionmaker[AsyncSession], chat: int, message: int, order: int) -> None:
    view = {"count": 3, "last": True, "lines": [{"order_id": order, "status": "pending"}]}
    async with sm() as session, write_tx(session):
        await notify.mass_placed(session, chat, message, order, view)


async def rows(sm: async_sessionmaker[AsyncSession]) -> list[tuple[int, int, str, int]]:
    async with sm() as session:
        found = await session.scalars(select(Notification).order_by(Notification.id))
        return [
            (n.chat_id, n.payload["message_id"], n.status, n.payload["lines"][0]["order_id"])
            for n in found
        ]


async def test_pending_edits_of_a_message_coalesce_into_the_latest(sm) -> None:
    await edit(sm, ALICE, 10, 1)
    await edit(sm, ALICE, 10, 2)
    await edit(sm, ALICE, 11, 3)  # another message of the same confirmation
    await edit(sm, BOB, 10, 4)  # another chat's message with the same id
    await edit(sm, ALICE, 10, 5)
    assert await rows(sm) == [
        (ALICE, 10, "skipped", 1),
        (ALICE, 10, "skipped", 2),
        (ALICE, 11, "pending", 3),
        (BOB, 10, "pending", 4),
        (ALICE, 10, "pending", 5),
    ]


async def test_an_edit_being_sent_stays_and_the_next_waits_for_it(sm) -> None:
    await edit(sm, ALICE, 10, 1)
    [taken] = await claim_due(sm)  # the sender is sending it right now
    await edit(sm, ALICE, 10, 2)
    await edit(sm, ALICE, 10, 3)
    assert await rows(sm) == [
        (ALICE, 10, "pending", 1),
        (ALICE, 10, "skipped", 2),
        (ALICE, 10, "pending", 3),
    ]
    assert await claim_due(sm) == []  # the chat's next edit waits behind the first
    sent = outbox.Outcomes()
    sent.mark_sent(taken.id)
    await outbox.record(sm, sent)  # as the sender records what it sent
    [later] = await claim_due(sm)
    assert later.payload["lines"][0]["order_id"] == 3
