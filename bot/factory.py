"""Builds the Bot and the Dispatcher with everything app-wide injected by name."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot, Dispatcher, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import ExceptionTypeFilter
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.types import ErrorEvent
from aiogram.utils.callback_answer import CallbackAnswerMiddleware
from aiogram.utils.i18n import I18n

from bot.config import Settings
from bot.i18n import StoredLanguageMiddleware
from bot.logging import UpdateLogContext
from bot.middlewares import DbSessionMiddleware, UserMiddleware, UserRowMiddleware
from bot.response_types import keep_response_types
from handlers import get_routers

log = logging.getLogger(__name__)


def create_bot(settings: Settings) -> Bot:
    session = None
    if settings.telegram_api_url:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    bot = Bot(
        token=settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )
    keep_response_types(bot)
    return bot


def create_storage(settings: Settings) -> tuple[BaseStorage, BaseEventIsolation]:
    """FSM storage and event isolation: in memory for one process, Redis for replicas."""
    if settings.redis_url:
        from aiogram.fsm.storage.redis import RedisStorage

        storage = RedisStorage.from_url(settings.redis_url)
        return storage, storage.create_isolation()
    return MemoryStorage(), SimpleEventIsolation()


def create_dispatcher(settings: Settings, i18n: I18n, **workflow_data: Any) -> Dispatcher:
    """`workflow_data` (sessionmaker, registry, ...) reaches handlers as typed parameters."""
    storage, isolation = create_storage(settings)
    dp = Dispatcher(
        storage=storage,
        events_isolation=isolation,
        settings=settings,
        currency=settings.currency,
        admin_ids=settings.admin_ids,
        i18n=i18n,
        **workflow_data,
    )
    dp.update.outer_middleware(UpdateLogContext())
    dp.update.outer_middleware(DbSessionMiddleware(workflow_data["sessionmaker"]))
    dp.update.outer_middleware(UserMiddleware(i18n))
    rows = UserRowMiddleware(i18n)  # the `user` row, for the handlers that declare it
    for name, observer in dp.observers.items():
        if name not in ("update", "error"):
            observer.middleware(rows)
    StoredLanguageMiddleware(i18n).setup(dp)
    # Every button press is answered before its handler runs (the spinner stops at once);
    # handlers marked handlers.ui.answers_itself answer with their own alert instead.
    dp.callback_query.middleware(CallbackAnswerMiddleware(pre=True))
    dp.include_routers(*get_routers())
    run_sync_filters_inline(dp)
    dp.errors.register(_on_error, ExceptionTypeFilter(Exception))
    return dp


def run_sync_filters_inline(router: Router) -> None:
    """Every synchronous filter of `router` and its sub-routers is run on the event loop.

    aiogram runs a filter that is a plain callable (a magic filter such as `F.text`, a
    `State` given as a filter) through `asyncio.to_thread`, once per update that reaches it:
    a worker thread hand-over for a check that reads an attribute. Ours are all such pure
    checks, so each becomes a coroutine that calls it (the checked parameters stay those of
    the original callable, which aiogram read at registration).
    """
    for observer in router.observers.values():
        # `_handler` holds the observer's own filters (router.message.filter(...)).
        for handler in (observer._handler, *observer.handlers):
            for item in handler.filters or ():
                if not item.awaitable:
                    item.callback = _on_the_loop(item.callback)
                    item.awaitable = True
    for sub_router in router.sub_routers:
        run_sync_filters_inline(sub_router)


def _on_the_loop(check: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    async def run(*args: Any, **kwargs: Any) -> Any:
        return check(*args, **kwargs)

    return run


async def _on_error(event: ErrorEvent, i18n: I18n, bot: Bot) -> bool:
    """Log the failure and tell the user something went wrong, instead of silence."""
    log.error("update %s failed", event.update.update_id, exc_info=event.exception)
    update = event.update
    text = i18n.gettext("Something went wrong. Please try again.")
    try:
        if update.callback_query is not None:
            try:
                await update.callback_query.answer(text, show_alert=True)
            except TelegramBadRequest:  # the press was answered already: say it in the chat
                await bot.send_message(update.callback_query.from_user.id, text)
        elif update.message is not None:
            await update.message.answer(text)
    except Exception:  # the error reply itself failed (network, blocked): already logged
        log.warning("could not report the error to the user", exc_info=True)
    return True
