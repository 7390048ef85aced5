"""Webhook mode for several replicas behind a load balancer (WEBHOOK_URL + WEBHOOK_SECRET)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import signal

from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from bot.app import App
from bot.config import Settings
from bot.health import add_health_routes
from handlers.payments.crypto_webhook import add_crypto_pay_route

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/telegram/webhook"


def webhook_address(settings: Settings) -> str:
    """The URL Telegram posts to. Its `v` names the secret (an HMAC keyed with the bot token,
    revealing nothing): Telegram never tells the secret back, so a new WEBHOOK_SECRET must
    change what getWebhookInfo shows, or replicas would keep the old one and refuse every
    update."""
    assert settings.webhook_url and settings.webhook_secret
    version = hmac.new(
        settings.bot_token.get_secret_value().encode(),
        settings.webhook_secret.get_secret_value().encode(),
        hashlib.sha256,
    ).hexdigest()[:16]
    return f"{settings.webhook_url}{WEBHOOK_PATH}?v={version}"


async def ensure_webhook(app: App) -> None:
    """Set the webhook once per deploy: replicas that find it already set the same way (URL,
    secret, update types) leave it alone."""
    settings = app.settings
    assert settings.webhook_url and settings.webhook_secret
    url = webhook_address(settings)
    allowed = app.dp.resolve_used_update_types()
    info = await app.bot.get_webhook_info()
    if info.url != url or sorted(info.allowed_updates or []) != sorted(allowed):
        await app.bot.set_webhook(
            url, secret_token=settings.webhook_secret.get_secret_value(), allowed_updates=allowed
        )
        log.info("webhook set")


def build_webhook_app(app: App) -> web.Application:
    """The aiohttp app: Telegram's updates on WEBHOOK_PATH (secret checked), /healthz and
    /metrics (bot.health; keep them off the public proxy), and Crypto Pay's updates on
    /cryptopay/webhook when it is configured (signature checked)."""
    settings = app.settings
    assert settings.webhook_secret is not None
    web_app = web.Application()
    SimpleRequestHandler(
        dispatcher=app.dp, bot=app.bot, secret_token=settings.webhook_secret.get_secret_value()
    ).register(web_app, path=WEBHOOK_PATH)
    add_health_routes(web_app, app)
    if app.crypto_pay is not None:
        add_crypto_pay_route(
            web_app,
            app.crypto_pay,
            app.sessionmaker,
            currency=settings.currency,
            admin_ids=settings.admin_ids,
        )
    setup_application(web_app, app.dp, bot=app.bot)
    return web_app


async def run_webhook(app: App) -> None:
    """Serve until SIGINT/SIGTERM; dp.startup/shutdown run with the web app's."""
    settings = app.settings
    await ensure_webhook(app)
    runner = web.AppRunner(build_webhook_app(app), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.webhook_listen_host, settings.webhook_listen_port).start()
    log.info("webhook server on %s:%s", settings.webhook_listen_host, settings.webhook_listen_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
