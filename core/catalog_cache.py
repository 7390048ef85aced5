"""The orderable catalogue as the customer's chat reads it, cached in the process.

Every step of an order reads the catalogue (the categories, a category's services, the
service picked, for its card and its quote); the catalogue changes when an admin changes it.
So each process holds one snapshot (`Catalog`: frozen dataclasses and tuples, never ORM rows
tied to a session), kept by core.snapshot: a change committed by this process is seen by the
next read, another replica's within CHECK_EVERY seconds. That is the staleness bound.

Nothing charges money from the snapshot: Confirm re-reads the service in its own write
transaction and refuses a charge that differs from the one shown (core.ordering), so a
stale price is at worst shown for up to CHECK_EVERY seconds, never charged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.pricing import ORDERABLE_TYPES
from core.snapshot import CHECK_EVERY, VersionedSnapshot
from db.cache_versions import CATALOG
from db.models import Category, Service


def orderable() -> tuple[ColumnElement[bool], ...]:
    """Services a customer can order: enabled, in an enabled category, of a type the chat
    can collect."""
    return (
        Service.enabled.is_(True),
        Category.enabled.is_(True),
        Service.type.in_(sorted(ORDERABLE_TYPES)),
    )


@dataclass(frozen=True, slots=True)
class CategoryView:
    id: int
    name: str
    platform: str | None
    sort: int


@dataclass(frozen=True, slots=True)
class ServiceView:
    """An orderable service with its category and its first mapping, as the chat shows and
    quotes it."""

    id: int
    category: CategoryView
    name: str
    description: str | None
    type: str
    price: Decimal
    rate_basis: str
    min: int
    max: int
    step: int
    mode: str
    provider_id: int | None
    provider_service_id: str | None
    refill: bool
    cancel: bool
    dripfeed: bool

    @property
    def category_id(self) -> int:
        return self.category.id


@dataclass(frozen=True)
class Catalog:
    """One consistent snapshot of the orderable catalogue at `version`."""

    version: int
    categories: tuple[tuple[CategoryView, int], ...]  # with their orderable service counts
    services: Mapping[int, ServiceView]
    by_category: Mapping[int, tuple[ServiceView, ...]]

    def service(self, service_id: int) -> ServiceView | None:
        return self.services.get(service_id)

    def category_services(self, category_id: int) -> tuple[ServiceView, ...]:
        return self.by_category.get(category_id, ())


# The columns of an orderable service with its category, as a view is built from them.
_COLUMNS = (
    Category.id, Category.name, Category.platform, Category.sort,
    Service.id, Service.name, Service.description, Service.type, Service.price,
    Service.rate_basis, Service.min, Service.max, Service.step, Service.mode,
    Service.provider_id, Service.provider_service_id, Service.refill,
    Service.cancel, Service.dripfeed,
)  # fmt: skip


def _orderable_rows() -> Select[Any]:
    return select(*_COLUMNS).join(Service, Service.category_id == Category.id).where(*orderable())


def _service_view(category: CategoryView, rest: Sequence[Any]) -> ServiceView:
    s_id, name, description, type_, price, basis, low, high, step, mode, *more = rest
    provider_id, provider_service_id, refill, cancel, dripfeed = more
    return ServiceView(
        s_id, category, name, description, type_, price, basis, low, high, step, mode,
        provider_id, provider_service_id, bool(refill), bool(cancel), bool(dripfeed),
    )  # fmt: skip


_SERVICE_NOW = _orderable_rows().where(Service.id == bindparam("service_id"))  # built once


async def read_service(session: AsyncSession, service_id: int) -> ServiceView | None:
    """One orderable service as it is now (one statement, columns): what Confirm charges
    from, in its write transaction, instead of the snapshot."""
    rows = await session.execute(_SERVICE_NOW, {"service_id": service_id})
    row = rows.first()
    if row is None:
        return None
    c_id, c_name, platform, sort, *rest = row
    return _service_view(CategoryView(c_id, c_name, platform, sort), rest)


async def load_catalog(session: AsyncSession, version: int) -> Catalog:
    """The orderable catalogue in one statement (columns, no ORM objects)."""
    rows = await session.execute(_orderable_rows().order_by(Service.id))
    categories: dict[int, CategoryView] = {}
    services: dict[int, ServiceView] = {}
    grouped: dict[int, list[ServiceView]] = {}
    for c_id, c_name, platform, sort, *rest in rows:
        category = categories.get(c_id)
        if category is None:
            category = categories[c_id] = CategoryView(c_id, c_name, platform, sort)
        service = _service_view(category, rest)
        services[service.id] = service
        grouped.setdefault(c_id, []).append(service)
    ordered = sorted(categories.values(), key=lambda c: (c.sort, c.name))
    return Catalog(
        version,
        tuple((c, len(grouped[c.id])) for c in ordered),
        MappingProxyType(services),
        MappingProxyType({c_id: tuple(items) for c_id, items in grouped.items()}),
    )


class CatalogCache(VersionedSnapshot[Catalog]):
    """One per process (bot.app). Every read goes through `current` (core.snapshot)."""

    def __init__(
        self, *, check_every: float = CHECK_EVERY, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(CATALOG, load_catalog, check_every=check_every, clock=clock)

    async def categories(self, session: AsyncSession) -> tuple[tuple[CategoryView, int], ...]:
        """Enabled categories that hold at least one orderable service, with that count."""
        return (await self.current(session)).categories

    async def category_services(
        self, session: AsyncSession, category_id: int
    ) -> tuple[ServiceView, ...]:
        """The orderable services of one category, by Service ID (empty if it is off)."""
        return (await self.current(session)).category_services(category_id)

    async def service(self, session: AsyncSession, service_id: int) -> ServiceView | None:
        """The orderable service, or None (off, in a category that is off, or unknown)."""
        return (await self.current(session)).service(service_id)
