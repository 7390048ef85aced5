"""The mass confirmation's edits on PostgreSQL: lanes answering orders of one confirmation
at the same time (4 workers) each build the message's state under the customer's row lock,
so the last edit never shows an older state, and none deadlocks (the tests of
test_order_mass, on a PostgreSQL database)."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.handlers.test_order_mass import (  # noqa: F401
    test_each_line_shows_its_outcome_in_the_same_message,
    test_fifty_orders_are_answered_at_once_and_refusals_shown_by_editing_them,
)
from tests.harness.databases import fresh_database


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    async with fresh_database("postgres", tmp_path) as url:
        yield url
