"""Several provider services per panel service, in priority order (core.mappings)."""

from decimal import Decimal

import pytest

from core.catalog import CatalogError
from core.mapping_admin import parse_priority, remove_mapping, set_mapping
from core.mappings import mappings_of
from core.routing import candidates
from db.engine import write_tx
from db.models import Provider, ProviderService, Service
from tests.harness.panel import Panel
from tests.harness.settings import ADMIN_ID as ADMIN

USD = "USD"


async def second_provider(panel: Panel, currency: str = "RUB") -> None:
    async with panel.sm() as session, write_tx(session):
        backup = Provider(name="backup", api_url=panel.fake.url, api_key="k", currency=currency)
        session.add(backup)
        await session.flush()
        for provider_id, psid, kind in (
            (panel.provider_id, "1", "default"),
            (backup.id, "7", "default"),
            (backup.id, "8", "package"),
        ):
            session.add(
                ProviderService(
                    provider_id=provider_id,
                    service_id=psid,
                    name="x",
                    type=kind,
                    rate=Decimal("90"),
                    min=10,
                    max=100000,
                )
            )


async def test_backups_are_listed_after_the_service_own_mapping(panel: Panel) -> None:
    await second_provider(panel)
    async with panel.sm() as session:
        result = await set_mapping(
            session, panel.service_id, "backup", "7", 2, admin_id=ADMIN, currency=USD
        )
        # 90 RUB per 1000 cannot be compared with our 2.00 USD until a rate is set.
        assert ("fx_missing", {"provider": "backup", "theirs": "RUB"}) in result.warnings
        service = await session.get(Service, panel.service_id)
        assert service is not None
        found = [(m.priority, m.provider.name, m.provider_service_id)
                 for m in await mappings_of(session, service)]  # fmt: skip
        assert found == [(1, "fake", "1"), (2, "backup", "7")]
        assert [c.key for c in await candidates(session, service.id)][1].endswith(":7")

        for args, code in (
            (("backup", "8", 3), "backup_type"),
            (("fake", "1", 2), "already_primary"),
            (("backup", "99", 2), "unknown_provider_service"),
        ):
            with pytest.raises(CatalogError) as refused:
                await set_mapping(session, panel.service_id, *args, admin_id=ADMIN, currency=USD)
            assert refused.value.code == code

        # Dropping the first mapping moves the backup up.
        service, left = await remove_mapping(session, panel.service_id, "fake", "1", admin_id=ADMIN)
        assert [(m.priority, m.provider.name) for m in left] == [(1, "backup")]
        assert service.provider_service_id == "7"
        with pytest.raises(CatalogError):
            await remove_mapping(session, panel.service_id, "fake", "1", admin_id=ADMIN)


async def test_a_backup_made_the_first_mapping_is_no_longer_a_backup(panel: Panel) -> None:
    await second_provider(panel, currency=USD)
    async with panel.sm() as session:
        await set_mapping(session, panel.service_id, "backup", "7", 2, admin_id=ADMIN, currency=USD)
        await set_mapping(session, panel.service_id, "backup", "7", 1, admin_id=ADMIN, currency=USD)
        service = await session.get(Service, panel.service_id)
        assert service is not None
        found = [(m.priority, m.provider.name, m.provider_service_id)
                 for m in await mappings_of(session, service)]  # fmt: skip
        assert found == [(1, "backup", "7")]


def test_priorities_are_small_numbers() -> None:
    assert parse_priority(None) == 1
    assert parse_priority("3") == 3
    assert parse_priority("0") is None and parse_priority("10") is None
    assert parse_priority("x") is None
