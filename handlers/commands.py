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


def menu(*entries: tuple[str, str]) -> list[BotCommand]:
    return [BotCommand(command=command, description=about) for command, about in entries]


def customer_commands() -> list[BotCommand]:
    """In the current locale."""
    return menu(
        ("start", _("Main menu")),
        ("neworder", _("Place an order")),
        ("orders", _("My orders")),
        ("balance", _("Balance and payments")),
        ("paysupport", _("Help with a payment")),
        ("search", _("Find a service")),
        ("massorder", _("Many orders at once")),
        ("referrals", _("Invite friends, earn a bonus")),
        ("support", _("Ask us a question")),
        ("help", _("How it works")),
        ("language", _("Change the language")),
        ("cancel", _("Leave the current step")),
    )


def admin_commands() -> list[BotCommand]:
    """The admin console's commands, after the customers' (an admin is a customer too)."""
    return customer_commands() + menu(
        ("admin", _("Admin console: every command")),
        ("stats", _("Orders, revenue, profit (chart)")),
        ("review", _("Orders waiting for you")),
        ("tickets", _("Open support tickets")),
        ("broadcast", _("Message every customer")),
        ("referrers", _("Referral settings and top referrers")),
        ("providers", _("Provider balances and errors")),
        ("services", _("Services and their mapping")),
        ("topup", _("Credit or debit a customer")),
        ("payments", _("Recent top-ups")),
        ("user", _("A customer's balance and orders")),
        ("order", _("One order in full")),
        ("errors", _("Recent provider errors")),
    )


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
