"""Admin console fixtures: the admin's chat, a FakeProvider over HTTP, a seeded catalogue."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest
from aiogram.methods import EditMessageText, SendMessage
from sqlalchemy import select

from core import billing
from core.ordering import OrderDraft, place_order
from core.users import ensure_user
from db.engine import write_tx
from db.models import Order, Service, User
from tests.conftest import ADMIN_ID
from tests.fakes.provider_server import FakeProvider
from tests.fakes.telegram_server import html_to_text
from tests.harness.dispatcher import TgChat

if TYPE_CHECKING:
    from bot.app import App

# Long enough that mask_secret shows only its ends.
API_KEY = "fp-key-0123456789-SECRET-abcdef"
CUSTOMER = 1001


@pytest.fixture(autouse=True)
def telegram_accepts_every_message(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test: every text the bot sent parses as Telegram HTML and fits 4096 chars."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")  # set up first, so torn down after this check
    yield
    for call in app.bot.session.calls:
        if isinstance(call, SendMessage | EditMessageText):
            assert len(call.text) <= 4096, call.text[:200]
            html_to_text(call.text)  # raises like Telegram on a bare "<" or a broken tag


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with FakeProvider(api_key=API_KEY) as fp:
        yield fp


@pytest.fixture
def admin(chat: Callable[..., TgChat]) -> TgChat:
    return chat(ADMIN_ID, first_name="Owner", username="owner")


@pytest.fixture
def customer(chat: Callable[..., TgChat]) -> TgChat:
    return chat(CUSTOMER, first_name="Alice", username="alice")


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


async def fund(app: App, user_id: int = CUSTOMER, amount: str = "100") -> None:
    async with app.sessionmaker() as session:
        await ensure_user(session, user_id, first_name="Alice", username="alice", language="en")
        async with write_tx(session):
            await billing.credit(session, user_id, Decimal(amount), key=f"seed:{user_id}:{amount}")


async def place(
    app: App, service_id: int, quantity: int = 100, user_id: int = CUSTOMER, key: str = "k1"
) -> Order:
    async with app.sessionmaker() as session:
        return await place_order(
            session,
            user_id,
            OrderDraft(service_id, "https://instagram.com/alice", quantity),
            key=key,
            admin_ids=frozenset({ADMIN_ID}),
        )


async def reload(app: App, model: type, ident: int) -> object:
    async with app.sessionmaker() as session:
        return await session.get(model, ident)


async def balance(app: App, user_id: int = CUSTOMER) -> Decimal:
    async with app.sessionmaker() as session:
        user = await session.get(User, user_id)
        assert user is not None
        assert user.balance == await billing.ledger_sum(session, user_id)
        return user.balance
