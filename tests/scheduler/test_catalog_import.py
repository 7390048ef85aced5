"""/import under concurrency, on SQLite and PostgreSQL (the fake provider over HTTP)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from sqlalchemy import func, select

from core.catalog_import import ImportResult, import_services
from db.models import ProviderService, Service
from tests.harness.panel import Panel


async def test_two_imports_at_once_both_succeed_without_duplicates(any_panel: Panel) -> None:
    """Two admins (or a double-sent /import) at the same moment on PostgreSQL: both read the
    catalogue before either wrote, and the second died on the unique provider-service key
    (the admin got no answer). Imports of one provider take turns instead."""
    panel = any_panel

    async def one() -> ImportResult:
        async with panel.sm() as session:
            return await import_services(
                session, panel.registry, "fake", Decimal(50), admin_id=1, currency="USD"
            )

    first, second = await asyncio.gather(one(), one())
    assert sorted([first.created, second.created]) == [0, len(panel.fake.services)]
    async with panel.sm() as session:
        counts = (await session.execute(
            select(ProviderService.service_id, func.count()).group_by(ProviderService.service_id)
        )).all()  # fmt: skip
        services = await session.scalar(select(func.count()).select_from(Service))
    assert counts and all(count == 1 for _, count in counts)
    assert services == 1 + first.created + second.created
