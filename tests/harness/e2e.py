"""End to end: the real app pointed at a running FakeTelegram (polling it over HTTP), and the
steps a customer takes in most of those tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.app import App, create_app
from providers import ProviderRegistry
from tests.fakes.telegram_server import FakeTelegram, run_polling
from tests.fakes.telegram_user import FakeUser
from tests.harness.settings import make_settings


@asynccontextmanager
async def app_on(
    database_url: str,
    tg: FakeTelegram,
    *,
    registry: ProviderRegistry | None = None,
    **settings: object,
) -> AsyncIterator[App]:
    """The real app talking to `tg` (not polling yet), closed afterwards."""
    app = await create_app(
        make_settings(database_url, telegram_api_url=tg.base_url, bot_token=tg.token, **settings),
        migrate=False,
        registry=registry,
    )
    try:
        yield app
    finally:
        await app.close()


@asynccontextmanager
async def polling_app(
    database_url: str, tg: FakeTelegram, **settings: object
) -> AsyncIterator[App]:
    """The real app polling `tg` for the body of the block, closed afterwards."""
    async with app_on(database_url, tg, **settings) as app, run_polling(app.dp, app.bot):
        yield app


async def open_followers(alice: FakeUser, quantity: str) -> None:
    """/neworder → Instagram → Instagram Followers → a link → `quantity`, up to the drip-feed
    question (the fake provider's followers offer it)."""
    await alice.send("/neworder")
    await alice.press("Instagram")
    await alice.press("Instagram Followers")
    await alice.wait_message("Service ID")
    await alice.send("https://instagram.com/alice")
    await alice.wait_message("How many?")
    await alice.send(quantity)
    await alice.wait_message("drip-feed")
