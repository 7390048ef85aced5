"""The admin console tests' moves: connect a FakeProvider and import it, place an order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from core.ordering import OrderDraft, place_order
from db.models import Order, Service
from tests.fakes.provider_server import FakeProvider
from tests.harness.dispatcher import TgChat
from tests.harness.settings import ADMINS, CUSTOMER

if TYPE_CHECKING:
    from bot.app import App

# Long enough that mask_secret shows only its ends.
API_KEY = "fp-key-0123456789-SECRET-abcdef"


async def connect_and_import(admin: TgChat, fake: FakeProvider, markup: int = 50) -> None:
    reply = await admin.send(f"/addprovider fp {fake.url} {API_KEY}")
    assert "connected" in reply.text, reply.text
    reply = await admin.send(f"/import fp {markup}")
    assert "Imported" in reply.text, reply.text


async def service_id_for(app: App, provider_service_id: str) -> int:
    async with app.sessionmaker() as session:
        service_id = await session.scalar(
            select(Service.id).where(Service.provider_service_id == provider_service_id)
        )
    assert service_id is not None
    return service_id


async def place(
    app: App, service_id: int, quantity: int = 100, user_id: int = CUSTOMER, key: str = "k1"
) -> Order:
    async with app.sessionmaker() as session:
        placed = await place_order(
            session,
            user_id,
            OrderDraft(service_id, "https://instagram.com/alice", quantity),
            key=key,
            admin_ids=ADMINS,
        )
        return placed.order
