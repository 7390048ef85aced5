"""Telegram command menus: customers by language, admins per chat, written only when changed."""

from __future__ import annotations

import asyncio
import json

from tests.fakes.telegram_server import FakeTelegram
from tests.harness.e2e import app_on, polling_app
from tests.harness.settings import ADMIN_ID

DEFAULT = json.dumps({"type": "default"}, sort_keys=True)


def chat_scope(chat_id: int) -> str:
    return json.dumps({"chat_id": chat_id, "type": "chat"}, sort_keys=True)


def names(commands: list[dict[str, str]]) -> list[str]:
    return [c["command"] for c in commands]


async def start_and_stop(tg: FakeTelegram, database_url: str, admins: str) -> None:
    async with polling_app(database_url, tg, admin_ids=admins) as app:
        await asyncio.wait_for(asyncio.gather(*app.background), 10)


async def test_menus_are_set_once_per_language_and_admin_chat(database_url: str) -> None:
    async with FakeTelegram() as tg:
        await start_and_stop(tg, database_url, f"{ADMIN_ID},9002")

        customers = tg.commands[(DEFAULT, "")]
        assert names(customers)[:3] == ["start", "neworder", "orders"]
        assert "broadcast" not in names(customers)
        assert any(c["description"] == "Place an order" for c in customers)
        russian = tg.commands[(DEFAULT, "ru")]
        assert names(russian) == names(customers)
        assert any(c["description"] == "Сделать заказ" for c in russian)
        for admin in (ADMIN_ID, 9002):
            admin_menu = names(tg.commands[(chat_scope(admin), "")])
            assert {"broadcast", "tickets", "stats", "neworder"} <= set(admin_menu)
            assert names(tg.commands[(chat_scope(admin), "ru")]) == admin_menu
        first_writes = len(tg.calls_of("setMyCommands"))
        assert first_writes == 6

        # A restart (or a second replica) finds every menu right and writes nothing.
        await start_and_stop(tg, database_url, f"{ADMIN_ID},9002")
        assert len(tg.calls_of("setMyCommands")) == first_writes
        assert len(tg.calls_of("getMyCommands")) == 12

        # 9002 is no longer an admin: their chat menu goes, the customers' shows again.
        await start_and_stop(tg, database_url, str(ADMIN_ID))
        assert (chat_scope(9002), "") not in tg.commands
        assert (chat_scope(9002), "ru") not in tg.commands
        assert (chat_scope(ADMIN_ID), "") in tg.commands
        assert len(tg.calls_of("setMyCommands")) == first_writes


async def test_replicas_starting_together_agree(database_url: str) -> None:
    async with FakeTelegram() as tg:
        await start_and_stop(tg, database_url, str(ADMIN_ID))
        tg.commands.clear()  # e.g. someone edited the menus in BotFather meanwhile
        await asyncio.gather(
            start_and_stop_app(tg, database_url), start_and_stop_app(tg, database_url)
        )
        assert names(tg.commands[(DEFAULT, "")])[0] == "start"
        assert "broadcast" in names(tg.commands[(chat_scope(ADMIN_ID), "ru")])


async def start_and_stop_app(tg: FakeTelegram, database_url: str) -> None:
    """A replica: the menus only (two pollers of one token would conflict)."""
    from handlers.commands import refresh_command_menus

    async with app_on(database_url, tg, admin_ids=str(ADMIN_ID)) as app:
        await refresh_command_menus(app.bot, app.i18n, app.sessionmaker, app.settings.admin_ids)


async def test_an_admin_telegram_does_not_know_is_skipped(database_url: str) -> None:
    async with FakeTelegram() as tg:
        tg.fail_next("setMyCommands", error_code=400, description="Bad Request: chat not found")
        await start_and_stop(tg, database_url, str(ADMIN_ID))
        # One menu was refused; the others were set and the bot kept running.
        assert len([c for c in tg.calls_of("setMyCommands") if c.ok]) == 3
