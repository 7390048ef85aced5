"""A panel service's provider services in priority order (failover).

Priority 1 is the service's own mapping (Service.provider_id / provider_service_id, set by
/map without a priority, /import, or core.catalog.map_service); priorities 2, 3 ... are
ServiceMapping rows. A backup must take the same order fields as the service (same type),
or the add request built for the first would be wrong for it. Submission reads them as
routes (core.routing) and leaves the choice to core.failover.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core import fx
from db.models import Category, Provider, ProviderService, Service, ServiceMapping

PRIMARY = 1
MAX_PRIORITY = 9


@dataclass(frozen=True)
class Mapping:
    """One provider service a panel service can be sent to."""

    priority: int
    provider: Provider
    provider_service_id: str
    offered: ProviderService | None  # the imported row; None if never imported

    @property
    def dropped(self) -> bool:
        return self.offered is not None and not self.offered.available


async def mappings_for(
    session: AsyncSession, services: Iterable[Service]
) -> dict[int, list[Mapping]]:
    """service id -> its mappings by priority (an unmapped service: an empty list)."""
    services = list(services)
    ids = [s.id for s in services]
    backups = list(
        await session.scalars(
            select(ServiceMapping)
            .where(ServiceMapping.service_id.in_(ids))
            .options(selectinload(ServiceMapping.provider))
            .order_by(ServiceMapping.service_id, ServiceMapping.priority)
        )
    )
    pairs: dict[int, list[tuple[int, Provider, str]]] = {sid: [] for sid in ids}
    for service in services:
        if service.provider_id is not None and service.provider_service_id:
            # Never the lazy relationship: the identity map answers without a query.
            provider = await session.get(Provider, service.provider_id)
            assert provider is not None
            pairs[service.id].append((PRIMARY, provider, service.provider_service_id))
    for row in backups:
        pairs[row.service_id].append((row.priority, row.provider, row.provider_service_id))
    wanted = {(p.id, psid) for rows in pairs.values() for _, p, psid in rows}
    offered: dict[tuple[int, str], ProviderService] = {}
    if wanted:
        rows = await session.scalars(
            select(ProviderService).where(
                or_(
                    *(
                        and_(ProviderService.provider_id == pid, ProviderService.service_id == psid)
                        for pid, psid in wanted
                    )
                )
            )
        )
        offered = {(r.provider_id, r.service_id): r for r in rows}
    return {
        sid: [Mapping(prio, p, psid, offered.get((p.id, psid))) for prio, p, psid in rows]
        for sid, rows in pairs.items()
    }


async def mappings_of(session: AsyncSession, service: Service) -> list[Mapping]:
    return (await mappings_for(session, [service]))[service.id]


async def services_mapped_to(session: AsyncSession, provider_id: int) -> list[tuple[Service, str]]:
    """Every switched-on service (in a switched-on category) that maps to this provider,
    as its first mapping or a backup, with the provider service id it maps to there."""
    enabled = (Service.enabled, Category.enabled)
    own = await session.execute(
        select(Service, Service.provider_service_id)
        .join(Category)
        .where(
            Service.provider_id == provider_id, Service.provider_service_id.is_not(None), *enabled
        )
    )
    backups = await session.execute(
        select(Service, ServiceMapping.provider_service_id)
        .join(Category)
        .join(ServiceMapping, ServiceMapping.service_id == Service.id)
        .where(ServiceMapping.provider_id == provider_id, *enabled)
    )
    rows = [(service, psid or "") for service, psid in [*own, *backups]]
    return sorted(rows, key=lambda row: (row[0].id, row[1]))


async def mark_dropped(session: AsyncSession, provider_id: int, provider_service_id: str) -> None:
    """The provider refused the service as unknown or disabled: failover skips it until its
    catalogue offers it again (the price watch and /import set it back)."""
    await session.execute(
        update(ProviderService)
        .where(
            ProviderService.provider_id == provider_id,
            ProviderService.service_id == provider_service_id,
        )
        .values(available=False)
    )


def cost_in_panel(mapping: Mapping, currency: str) -> Decimal | None:
    """The mapping's provider rate in the panel's currency (None: unknown or no rate)."""
    if mapping.offered is None:
        return None
    return fx.to_panel(mapping.offered.rate, mapping.provider, currency)
