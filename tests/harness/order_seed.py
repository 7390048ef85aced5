"""A small catalogue and helpers for the ordering tests (dispatcher level and end to end)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from aiogram import Bot, Dispatcher
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.statuses import LedgerKind
from db.engine import write_tx
from db.models import Category, LedgerEntry, Notification, Order, Service
from tests.harness import seed


@dataclass
class Catalog:
    followers: int  # Instagram, manual, 2.00 per 1000, 100..10000
    likes: int  # Instagram, manual, 1.00 per 1000, 100..1000 step 50
    comments: int  # Instagram custom comments, manual, 10.00 per 1000, 2..5 lines
    package: int  # Instagram package, manual, 5.00 flat
    views: int  # TikTok, manual, 0.50 per 1000, 100..100000
    hidden: int  # disabled service
    hidden_category: int  # service in a disabled category
    auto: int | None = None  # Instagram Followers at a provider (when given)


async def seed_catalog(
    sm: async_sessionmaker[AsyncSession],
    *,
    provider_url: str | None = None,
    provider_key: str = "test-key",
) -> Catalog:
    async with sm() as session, write_tx(session):
        insta = Category(name="Instagram", platform="instagram", sort=1)
        tiktok = Category(name="TikTok", platform="tiktok", sort=2)
        closed = Category(name="Closed", platform=None, sort=3, enabled=False)
        session.add_all([insta, tiktok, closed])
        await session.flush()

        async def svc(category: Category, name: str, **fields: object) -> Service:
            defaults = {"category_id": category.id, "name": name, "price": Decimal("2.00")}
            return await seed.service(session, **(defaults | {"min": 100} | fields))

        followers = await svc(
            insta, "Instagram Followers", description="Real <b>looking</b> & fast", refill=True
        )
        likes = await svc(insta, "Instagram Likes", price=Decimal("1.00"), max=1000, step=50)
        comments = await svc(
            insta,
            "Instagram Custom Comments",
            type="custom_comments",
            price=Decimal("10.00"),
            min=2,
            max=5,
        )
        package = await svc(
            insta,
            "Instagram Starter Package",
            type="package",
            rate_basis="flat",
            price=Decimal("5.00"),
            min=1,
            max=1,
        )
        views = await svc(tiktok, "TikTok Views", price=Decimal("0.50"), max=100000)
        hidden = await svc(insta, "Old Followers", enabled=False)
        hidden_category = await svc(closed, "Closed Service")
        auto = None
        if provider_url is not None:
            _, auto = await seed.provider_catalog(
                session,
                provider_url,
                provider_key,
                price=Decimal("1.50"),
                name="Instagram Followers Auto",
            )
        await session.flush()
    return Catalog(
        followers.id,
        likes.id,
        comments.id,
        package.id,
        views.id,
        hidden.id,
        hidden_category.id,
        auto.id if auto is not None else None,
    )


async def orders_of(sm: async_sessionmaker[AsyncSession], user_id: int) -> list[Order]:
    async with sm() as session:
        rows = await session.scalars(
            select(Order).where(Order.user_id == user_id).order_by(Order.id)
        )
        return list(rows)


async def charges_of(sm: async_sessionmaker[AsyncSession], user_id: int) -> int:
    async with sm() as session:
        return (
            await session.scalar(
                select(func.count()).where(
                    LedgerEntry.user_id == user_id, LedgerEntry.kind == LedgerKind.ORDER_CHARGE
                )
            )
            or 0
        )


def fsm(dp: Dispatcher, bot: Bot, user_id: int) -> FSMContext:
    return FSMContext(
        storage=dp.storage, key=StorageKey(bot_id=bot.id, chat_id=user_id, user_id=user_id)
    )


async def notifications_of(
    sm: async_sessionmaker[AsyncSession], chat_id: int
) -> list[Notification]:
    """The outbox rows for one chat, oldest first."""
    async with sm() as session:
        rows = await session.scalars(
            select(Notification).where(Notification.chat_id == chat_id).order_by(Notification.id)
        )
        return list(rows)
