"""/import with catalogue rows that do not fit the panel's columns (a max of 5e9, a service
id over 64 characters, a rate ≥ 4·10^10): each is skipped and listed in the report, the rest
imports; on PostgreSQL too, where such a row aborted the whole import with no answer."""

from __future__ import annotations

from sqlalchemy import func, select

from db.models import ProviderService, Service
from tests.fakes.provider_server import FakeProvider
from tests.harness.apps import chat_on, recording_app
from tests.harness.console import API_KEY
from tests.harness.settings import ADMIN_ID

ODD_ROWS = [
    {"service": 91, "name": "Huge max", "type": "Default", "category": "Odd", "rate": "1",
     "min": "10", "max": "5000000000"},
    {"service": "x" * 70, "name": "Long id", "type": "Default", "category": "Odd",
     "rate": "1", "min": "10", "max": "100"},
    {"service": 93, "name": "Dear", "type": "Default", "category": "Odd",
     "rate": "40000000000", "min": "10", "max": "100"},
]  # fmt: skip


async def test_odd_rows_are_skipped_and_listed_the_rest_imports(any_database_url: str) -> None:
    async with FakeProvider(api_key=API_KEY) as fake:
        fake.services += ODD_ROWS
        app = await recording_app(any_database_url)
        admin = chat_on(app, ADMIN_ID)
        try:
            assert "connected" in (await admin.send(f"/addprovider fp {fake.url} {API_KEY}")).text
            report = (await admin.send("/import fp 50")).text
            fake.services[0]["max"] = "20000"  # a later import still updates the rest
            again = (await admin.send("/import fp 50")).text
            async with app.sessionmaker() as session:
                services = await session.scalar(select(func.count()).select_from(Service))
                stored = set(await session.scalars(select(ProviderService.service_id)))
        finally:
            await app.close()
    assert "Imported" in report and "Created: 5" in report, report
    assert "Skipped, they do not fit the panel: 3" in report
    for shown in ("91", "xxxxxxxx", "93", "min/max", "money range"):
        assert shown in report, report
    assert "Updated: 1" in again and "No longer offered" not in again
    assert services == 5 and stored == {"1", "2", "3", "4", "5"}
