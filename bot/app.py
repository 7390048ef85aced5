"""The running application: engine, provider registry, bot, dispatcher and scheduler."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.factory import create_bot, create_dispatcher
from bot.health import health_listener
from bot.i18n import create_i18n
from core import panel_settings, referrals
from core.catalog_cache import CatalogCache
from core.lanes import SubmissionLanes
from core.provider_accounts import encrypt_stored_keys, provider_names, stored_api_keys
from db.engine import create_engine, make_sessionmaker
from db.migrate import upgrade
from handlers.broadcast.views import progress_views
from handlers.commands import refresh_command_menus
from handlers.notifications import keyboards, renderer
from payments import CryptoPayClient
from providers import ProviderRegistry
from providers.ratelimit import RedisSlots
from scheduler.jobs import build_jobs, recover_on_startup
from scheduler.pacing import SharedPacer
from scheduler.setup import PanelScheduler, create_scheduler
from telemetry import metrics

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    registry: ProviderRegistry
    i18n: I18n
    bot: Bot
    dp: Dispatcher
    scheduler: PanelScheduler
    lanes: SubmissionLanes | None = None
    catalog: CatalogCache = field(default_factory=CatalogCache)
    redis: Any = None  # shared pacing of providers and Telegram sends (REDIS_URL)
    crypto_pay: CryptoPayClient | None = None
    background: set[asyncio.Task[None]] = field(default_factory=set)

    async def close(self) -> None:
        """Release connections; the scheduler is stopped by dp.shutdown."""
        if self.lanes is not None:
            await self.lanes.stop()
        await self.registry.close()
        await self.bot.session.close()
        await self.engine.dispose()
        if self.redis is not None:
            await self.redis.aclose()


async def create_app(
    settings: Settings,
    *,
    migrate: bool = True,
    registry: ProviderRegistry | None = None,
    on_secret: Callable[[str], None] | None = None,
) -> App:
    """Everything wired; `registry` lets tests give providers short timeouts; `on_secret` is
    told every provider key (the log redactor), those stored already and each new one."""
    if migrate:
        await asyncio.to_thread(upgrade, settings.database_url)
    engine = create_engine(settings.database_url, secret_key=settings.secret_key_value)
    sessionmaker = make_sessionmaker(engine)
    redis, slots, pacer = None, None, None
    if settings.redis_url:  # replicas: provider pacing and Telegram's pace hold for all
        from redis.asyncio import Redis

        redis = Redis.from_url(settings.redis_url)
        slots = RedisSlots(redis)
        pacer = SharedPacer(slots)
    registry = registry or ProviderRegistry(slots=slots, on_secret=on_secret)
    async with sessionmaker() as session:
        if settings.secret_key:  # keys stored before SECRET_KEY was set get encrypted now
            await encrypt_stored_keys(session)
        keys = await stored_api_keys(session)  # SecretKeyError: encrypted, wrong/no key
        for provider_id, name in await provider_names(session):
            metrics.remember_provider(provider_id, name)  # orders placed before a first call
    for key in keys if on_secret is not None else ():
        on_secret(key)
    # The environment's defaults of the settings the owner can change from the chat.
    async with sessionmaker() as session:
        defaults = referrals.env_defaults(settings.referral_percent, settings.referral_admin_topups)
        await panel_settings.store(session, defaults, env=True)
    i18n = create_i18n(settings.default_language)
    bot = create_bot(settings)
    crypto_pay = create_crypto_pay(settings, registry)
    lanes = SubmissionLanes(sessionmaker, registry, settings.admin_ids)
    catalog = CatalogCache()  # the chat's catalogue reads (core.catalog_cache)
    dp = create_dispatcher(
        settings,
        i18n,
        sessionmaker=sessionmaker,
        registry=registry,
        crypto_pay=crypto_pay,
        lanes=lanes,
        catalog=catalog,
    )
    runs: set[asyncio.Task[Any]] = set()
    scheduler = create_scheduler(
        build_jobs(
            settings=settings,
            sessionmaker=sessionmaker,
            registry=registry,
            bot=bot,
            render=renderer(i18n, currency=settings.currency),
            keyboard=keyboards(i18n),
            pacer=pacer,
            crypto_pay=crypto_pay,
            progress_view=progress_views(i18n),
            running=runs,
            lanes=lanes,
        ),
        runs,
    )
    app = App(
        settings,
        engine,
        sessionmaker,
        registry,
        i18n,
        bot,
        dp,
        scheduler,
        lanes=lanes,
        catalog=catalog,
        redis=redis,
        crypto_pay=crypto_pay,
    )
    dp.workflow_data["scheduler"] = scheduler

    async def on_startup() -> None:
        # Before any job runs: an order a crash left mid-submission goes to review.
        await recover_on_startup(sessionmaker, settings.admin_ids, replicas=settings.runs_replicas)
        scheduler.start()
        log.info("scheduler started with %d jobs", len(scheduler.get_jobs()))
        # Telegram's command menus: in the background, polling does not wait for them.
        menus = asyncio.create_task(
            refresh_command_menus(bot, i18n, sessionmaker, settings.admin_ids)
        )
        app.background.add(menus)
        menus.add_done_callback(app.background.discard)

    async def on_shutdown() -> None:
        for task in app.background:
            task.cancel()
        await lanes.stop()
        await scheduler.stop()

    dp.startup.register(on_startup)
    dp.shutdown.register(on_shutdown)
    return app


def create_crypto_pay(settings: Settings, registry: ProviderRegistry) -> CryptoPayClient | None:
    """Crypto Pay when CRYPTO_PAY_TOKEN is set, on the providers' shared httpx pool."""
    if settings.crypto_pay_token is None:
        return None
    return CryptoPayClient(
        registry.http,
        settings.crypto_pay_token.get_secret_value(),
        api_url=settings.crypto_pay_api_url,
    )


async def run_polling(app: App) -> None:
    """Long polling (the default). aiogram stops it cleanly on SIGINT/SIGTERM. With
    HEALTH_PORT set, /healthz and /metrics are served meanwhile."""
    await app.bot.delete_webhook(drop_pending_updates=False)
    async with health_listener(app):
        await app.dp.start_polling(
            app.bot, allowed_updates=app.dp.resolve_used_update_types(), close_bot_session=False
        )
