"""Who a broadcast reaches: every audience counted in one read, blocked users left out."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import broadcast
from db.engine import write_tx
from db.models import User
from tests.harness.databases import BACKENDS
from tests.harness.seed import order


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
async def test_audience_sizes_count_each_audience_without_the_blocked(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        assert await broadcast.audience_sizes(session, ["en", "ru"]) == {
            "all": 0, "ordered": 0, "lang_en": 0, "lang_ru": 0,
        }  # fmt: skip
        async with write_tx(session):
            session.add_all([
                User(id=1, language="en"),
                User(id=2, language="en"),
                User(id=3, language="ru"),
                User(id=4, language="ru", is_blocked=True),
                User(id=5, language=None),
            ])  # fmt: skip
            await session.flush()
            await order(session, 1)
            await order(session, 1)  # two orders: still one customer
            await order(session, 3)
            await order(session, 4)  # blocked: not reached, whatever they ordered
        sizes = await broadcast.audience_sizes(session, ["en", "ru"])
    assert sizes == {"all": 4, "ordered": 2, "lang_en": 2, "lang_ru": 1}
    assert list(sizes) == ["all", "ordered", "lang_en", "lang_ru"]  # the buttons' order
