"""Admins shaping a service's mappings: /map with a priority, /unmap (core.mappings reads)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from core.audit import audit
from core.catalog import (
    CatalogError,
    MapResult,
    cost_warnings,
    get_service,
    map_service,
    offered_service,
    provider_by_name,
)
from core.mappings import MAX_PRIORITY, PRIMARY, Mapping, mappings_of
from db.engine import write_tx
from db.models import Provider, ProviderService, Service, ServiceMapping


@dataclass
class BackupResult:
    service: Service
    priority: int
    provider_service: ProviderService
    warnings: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def parse_priority(text: str | None) -> int | None:
    """1..MAX_PRIORITY, None when the text is not one."""
    if text is None:
        return PRIMARY
    text = text.strip()
    if not text.isdecimal() or len(text) > 2:
        return None
    value = int(text)
    return value if PRIMARY <= value <= MAX_PRIORITY else None


async def set_mapping(
    session: AsyncSession,
    service_id: int,
    provider_name: str,
    provider_service_id: str,
    priority: int,
    *,
    admin_id: int,
    currency: str,
) -> MapResult | BackupResult:
    """/map SERVICE_ID NAME PROVIDER_SERVICE_ID [PRIORITY]: priority 1 (re)maps the service
    itself; 2.. sets the backup tried at that place (replacing the one there)."""
    if priority == PRIMARY:
        return await map_service(
            session,
            service_id,
            provider_name,
            provider_service_id,
            admin_id=admin_id,
            currency=currency,
        )
    async with write_tx(session):
        service = await get_service(session, service_id)
        provider = await provider_by_name(session, provider_name)
        ps = await offered_service(session, provider, provider_service_id.strip())
        if service.provider_id is None or not service.provider_service_id:
            raise CatalogError("backup_without_primary", service_id=service.id)
        if (service.provider_id, service.provider_service_id) == (provider.id, ps.service_id):
            raise CatalogError("already_primary", service_id=service.id)
        if ps.type != service.type:
            raise CatalogError("backup_type", ours=service.type, theirs=ps.type)
        await session.execute(
            delete(ServiceMapping).where(
                ServiceMapping.service_id == service.id,
                or_(
                    ServiceMapping.priority == priority,
                    and_(
                        ServiceMapping.provider_id == provider.id,
                        ServiceMapping.provider_service_id == ps.service_id,
                    ),
                ),
            )
        )
        session.add(
            ServiceMapping(
                service_id=service.id,
                provider_id=provider.id,
                provider_service_id=ps.service_id,
                priority=priority,
            )
        )
        result = BackupResult(service, priority, ps)
        result.warnings += _backup_warnings(service, ps, provider, currency)
        audit(
            session,
            admin_id,
            "service.map_backup",
            f"service:{service.id}",
            None,
            {
                "provider_id": provider.id,
                "provider_service_id": ps.service_id,
                "priority": priority,
            },
        )
    return result


def _backup_warnings(
    service: Service, ps: ProviderService, provider: Provider, currency: str
) -> list[tuple[str, dict[str, Any]]]:
    warnings = cost_warnings(service, ps, provider, currency)
    if service.min < ps.min or (ps.max and service.max > ps.max):
        warnings.append(("range", {"min": ps.min, "max": ps.max}))
    if service.dripfeed and not ps.dripfeed:
        warnings.append(("no_dripfeed", {}))
    return warnings


async def remove_mapping(
    session: AsyncSession,
    service_id: int,
    provider_name: str,
    provider_service_id: str,
    *,
    admin_id: int,
) -> tuple[Service, list[Mapping]]:
    """/unmap: drop one mapping; the next by priority moves up when the first is dropped.
    Returns the service and its mappings left."""
    async with write_tx(session):
        service = await get_service(session, service_id)
        provider = await provider_by_name(session, provider_name)
        psid = provider_service_id.strip()
        before = {"provider_id": provider.id, "provider_service_id": psid}
        if (service.provider_id, service.provider_service_id) == (provider.id, psid):
            nxt = await session.scalar(
                select(ServiceMapping)
                .where(ServiceMapping.service_id == service.id)
                .options(selectinload(ServiceMapping.provider))
                .order_by(ServiceMapping.priority)
                .limit(1)
            )
            if nxt is None:
                service.provider_id = service.provider_service_id = None
                service.provider = None
            else:
                service.provider_id, service.provider_service_id = (
                    nxt.provider_id,
                    nxt.provider_service_id,
                )
                service.provider = nxt.provider
                await session.delete(nxt)
        else:
            gone = await session.execute(
                delete(ServiceMapping).where(
                    ServiceMapping.service_id == service.id,
                    ServiceMapping.provider_id == provider.id,
                    ServiceMapping.provider_service_id == psid,
                )
            )
            if not gone.rowcount:
                raise CatalogError(
                    "not_mapped_there", service_id=service.id, provider=provider.name
                )
        await session.flush()
        audit(session, admin_id, "service.unmap", f"service:{service.id}", before, None)
        left = await mappings_of(session, service)
    return service, left
