"""/healthz and /metrics: what a load balancer, systemd's watchdog or Prometheus asks.

/healthz answers 200 only when the database answers a SELECT 1, Redis (when configured)
answers PING and the scheduler is running, each within CHECK_TIMEOUT; otherwise 503 and a
small JSON body naming the part that failed (the full error goes to the log, not the body).
/metrics is Prometheus' text format: counters recorded where things happen (telemetry.metrics)
plus the backlogs, read with one short query per scrape.

Webhook mode adds both routes to the webhook server; polling mode serves them on
HEALTH_HOST:HEALTH_PORT when HEALTH_PORT is set.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from aiohttp import web
from apscheduler.schedulers.base import STATE_RUNNING
from sqlalchemy import text

from core.backlogs import backlogs
from telemetry import metrics

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)
CHECK_TIMEOUT = 2.0  # seconds per part; a load balancer's own timeout is usually 5 s
OK = "ok"


async def _database(app: App) -> None:
    async with app.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _redis(app: App) -> None:
    if not await app.redis.ping():
        raise ConnectionError("PING not answered")


async def _check(part: str, probe: Awaitable[None]) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await probe
    except TimeoutError:
        log.warning("health: %s did not answer within %g s", part, CHECK_TIMEOUT)
        return "timeout"
    except Exception as exc:
        log.warning("health: %s failed: %s: %s", part, type(exc).__name__, exc)
        return f"error: {type(exc).__name__}"
    return OK


async def health(app: App) -> dict[str, str]:
    """Each part's state: "ok", "timeout", "error: <kind>" or "stopped"."""
    probes: dict[str, Awaitable[None]] = {"database": _database(app)}
    if app.redis is not None:
        probes["redis"] = _redis(app)
    results = await asyncio.gather(*(_check(part, probe) for part, probe in probes.items()))
    checks = dict(zip(probes, results, strict=True))
    checks["scheduler"] = OK if app.scheduler.state == STATE_RUNNING else "stopped"
    return checks


def add_health_routes(web_app: web.Application, app: App) -> None:
    async def healthz(_request: web.Request) -> web.Response:
        checks = await health(app)
        failed = [part for part, state in checks.items() if state != OK]
        body: dict[str, Any] = {"ok": not failed, "checks": checks}
        if failed:
            body["failed"] = failed
        return web.json_response(body, status=503 if failed else 200)

    async def scrape(_request: web.Request) -> web.Response:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT), app.sessionmaker() as session:
                waiting = await backlogs(session)
            metrics.set_backlogs(
                outbox=waiting.outbox,
                broadcast=waiting.broadcast,
                queued=waiting.queued,
                review=waiting.review,
                syncing=waiting.syncing,
            )
        except Exception as exc:  # the counters are still worth a scrape; the gauges keep
            log.warning("metrics: backlogs not read: %s: %s", type(exc).__name__, exc)
        payload, content_type = metrics.exposition()
        response = web.Response(body=payload)
        response.headers["Content-Type"] = content_type
        return response

    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/metrics", scrape)


def health_app(app: App) -> web.Application:
    web_app = web.Application()
    add_health_routes(web_app, app)
    return web_app


@asynccontextmanager
async def health_listener(app: App) -> AsyncIterator[None]:
    """Polling mode: /healthz and /metrics on HEALTH_HOST:HEALTH_PORT while the bot runs
    (nothing when HEALTH_PORT is not set)."""
    settings = app.settings
    if settings.health_port is None:
        yield
        return
    runner = web.AppRunner(health_app(app), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.health_host, settings.health_port).start()
        log.info("health and metrics on %s:%s", settings.health_host, settings.health_port)
        yield
    finally:
        await runner.cleanup()
