"""Webhook mode for several replicas behind a load balancer (WEBHOOK_URL + WEBHOOK_SECRET)."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from bot.app import App

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/telegram/webhook"


async def ensure_webhook(app: App) -> None:
    """Set the webhook once per deploy: replicas that find it already set leave it alone."""
    settings = app.settings
    assert settings.webhook_url and settings.webhook_secret
    url = settings.webhook_url + WEBHOOK_PATH
    info = await app.bot.get_webhook_info()
    if info.url != url:
        await app.bot.set_webhook(
            url,
            secret_token=settings.webhook_secret.get_secret_value(),
            allowed_updates=app.dp.resolve_used_update_types(),
        )
        log.info("webhook set")


def build_webhook_app(app: App) -> web.Application:
    """The aiohttp app: Telegram's updates on WEBHOOK_PATH (secret checked), /healthz."""
    settings = app.settings
    assert settings.webhook_secret is not None
    web_app = web.Application()
    SimpleRequestHandler(
        dispatcher=app.dp, bot=app.bot, secret_token=settings.webhook_secret.get_secret_value()
    ).register(web_app, path=WEBHOOK_PATH)

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    web_app.router.add_get("/healthz", health)
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
