"""Small builders for rows tests need (catalogue, orders), written through the real models."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Category, Order, Service


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
