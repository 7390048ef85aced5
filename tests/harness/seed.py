"""Small builders for rows tests need (catalogue, orders), written through the real models."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Category, Order, Provider, Service


async def category(
    session: AsyncSession, name: str = "Instagram", platform: str | None = "instagram"
) -> Category:
    existing = await session.scalar(select(Category).where(Category.name == name))
    if existing is not None:
        return existing
    row = Category(name=name, platform=platform)
    session.add(row)
    await session.flush()
    return row


async def service(session: AsyncSession, **fields: object) -> Service:
    cat = await category(session)
    values: dict[str, object] = {
        "category_id": cat.id,
        "name": "Instagram Followers",
        "price": Decimal("1.00"),
        "min": 10,
        "max": 10000,
        "mode": "manual",
    }
    values.update(fields)
    row = Service(**values)
    session.add(row)
    await session.flush()
    return row


async def order(session: AsyncSession, user_id: int, **fields: object) -> Order:
    svc = await session.scalar(select(Service).limit(1)) or await service(session)
    values: dict[str, object] = {
        "user_id": user_id,
        "service_id": svc.id,
        "link": "https://instagram.com/x",
        "quantity": 1000,
        "charge": Decimal(1),
        "status": "manual",
    }
    values.update(fields)
    row = Order(**values)
    session.add(row)
    await session.flush()
    return row


async def provider_catalog(
    session: AsyncSession,
    api_url: str,
    api_key: str,
    *,
    price: Decimal = Decimal("2.00"),
    name: str = "Instagram Followers",
) -> tuple[Provider, Service]:
    """A provider at `api_url` and one auto Instagram service mapped to its service "1"
    (followers, refill and cancel): the panel most core and scheduler tests start from."""
    provider = Provider(name="fake", api_url=api_url, api_key=api_key)
    session.add(provider)
    await session.flush()
    row = await service(
        session,
        name=name,
        price=price,
        min=50,
        max=10000,
        mode="auto",
        provider_id=provider.id,
        provider_service_id="1",
        refill=True,
        cancel=True,
    )
    return provider, row
