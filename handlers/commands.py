"""Telegram's command menus (setMyCommands): customers by language, admins per chat.

Set at start-up, and only where Telegram's current menu differs from ours: replicas starting
at once each read the menu, find it already right and write nothing (they write the same
thing if they race). A chat that stopped being an admin gets its own menu deleted, so it
falls back to the customers' one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import panel_settings

log = logging.getLogger(__name__)

ADMIN_MENUS_KEY = "menu_admin_chats"  # the chats that got an admin menu, comma-separated
MenuScope = BotCommandScopeDefault | BotCommandScopeChat


def customer_commands() -> list[BotCommand]:
    """In the current locale."""
    return [
        BotCommand(command="start", description=_("Main menu")),
        BotCommand(command="neworder", description=_("Place an order")),
        BotCommand(command="orders", description=_("My orders")),
        BotCommand(command="balance", description=_("Balance and payments")),
        BotCommand(command="paysupport", description=_("Help with a payment")),
        BotCommand(command="search", description=_("Find a service")),
        BotCommand(command="massorder", description=_("Many orders at once")),
        BotCommand(command="referrals", description=_("Invite friends, earn a bonus")),
        BotCommand(command="support", description=_("Ask us a question")),
        BotCommand(command="help", description=_("How it works")),
        BotCommand(command="language", description=_("Change the language")),
        BotCommand(command="cancel", description=_("Leave the current step")),
    ]


def admin_commands() -> list[BotCommand]:
    """The admin console's commands, after the customers' (an admin is a customer too)."""
    return [
        *customer_commands(),
        BotCommand(command="admin", description=_("Admin console: every command")),
        BotCommand(command="stats", description=_("Orders, revenue, profit (chart)")),
        BotCommand(command="review", description=_("Orders waiting for you")),
        BotCommand(command="tickets", description=_("Open support tickets")),
        BotCommand(command="broadcast", description=_("Message every customer")),
        BotCommand(command="referrers", description=_("Referral settings and top referrers")),
        BotCommand(command="providers", description=_("Provider balances and errors")),
        BotCommand(command="services", description=_("Services and their mapping")),
        BotCommand(command="topup", description=_("Credit or debit a customer")),
        BotCommand(command="payments", description=_("Recent top-ups")),
        BotCommand(command="user", description=_("A customer's balance and orders")),
        BotCommand(command="order", description=_("One order in full")),
        BotCommand(command="errors", description=_("Recent provider errors")),
    ]


def desired_menus(
    i18n: I18n, admin_ids: Iterable[int]
) -> list[tuple[MenuScope, str | None, list[BotCommand]]]:
    """(scope, language_code, commands) for every menu we keep; the default language's
    menu has no language code (Telegram shows it to every language without its own)."""
    menus: list[tuple[MenuScope, str | None, list[BotCommand]]] = []
    locales = [i18n.default_locale, *sorted(set(i18n.available_locales) - {i18n.default_locale})]
    for locale in locales:
        code = None if locale == i18n.default_locale else locale
        with i18n.context(), i18n.use_locale(locale):
            menus.append((BotCommandScopeDefault(), code, customer_commands()))
            for chat_id in sorted(admin_ids):
                menus.append((BotCommandScopeChat(chat_id=chat_id), code, admin_commands()))
    return menus


def _same(current: list[BotCommand], wanted: list[BotCommand]) -> bool:
    return [(c.command, c.description) for c in current] == [
        (c.command, c.description) for c in wanted
    ]


async def sync_command_menus(
    bot: Bot, i18n: I18n, admin_ids: Iterable[int], former_admin_ids: Iterable[int] = ()
) -> int:
    """Make Telegram's menus ours; returns how many were written. Never raises: a chat
    Telegram does not know (an admin who never opened the bot) is logged and skipped."""
    written = 0
    for scope, code, commands in desired_menus(i18n, admin_ids):
        try:
            current = await bot.get_my_commands(scope=scope, language_code=code)
            if _same(current, commands):
                continue
            await bot.set_my_commands(commands, scope=scope, language_code=code)
            written += 1
        except TelegramAPIError as exc:
            log.warning("command menu %s/%s not set: %s", scope.type, code or "-", exc.message)
    stale = set(former_admin_ids) - set(admin_ids)
    for chat_id in sorted(stale):
        for code in [None, *sorted(set(i18n.available_locales) - {i18n.default_locale})]:
            try:
                await bot.delete_my_commands(
                    scope=BotCommandScopeChat(chat_id=chat_id), language_code=code
                )
            except TelegramAPIError as exc:
                log.warning("admin menu of %s not removed: %s", chat_id, exc.message)
    if written:
        log.info("command menus: %d updated", written)
    return written


async def refresh_command_menus(
    bot: Bot,
    i18n: I18n,
    sessionmaker: async_sessionmaker[AsyncSession],
    admin_ids: Iterable[int],
) -> None:
    """At start-up, in the background: the menus, and which chats have an admin menu now."""
    try:
        async with sessionmaker() as session:
            former = await panel_settings.read(session, ADMIN_MENUS_KEY, "")
        former_ids = {int(part) for part in former.split(",") if part.strip().lstrip("-").isdigit()}
        await sync_command_menus(bot, i18n, admin_ids, former_ids)
        wanted = ",".join(str(chat_id) for chat_id in sorted(admin_ids))
        if wanted != former:
            async with sessionmaker() as session:
                await panel_settings.store(session, {ADMIN_MENUS_KEY: wanted})
    except Exception:  # the menus are a convenience: never let them stop the bot
        log.exception("command menus could not be refreshed")
