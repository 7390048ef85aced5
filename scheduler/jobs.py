"""The periodic jobs of the panel, wired with the app's objects.

Each job is a small function over core. Replica safety lives below the jobs: an order is
claimed by a conditional UPDATE before it is sent, status answers are applied to rows
locked with SKIP LOCKED and only while still active, notifications are leased before they
are sent, and the watches take a transaction-level advisory lock on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aiogram import Bot
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import notify
from core.claims import STUCK_AFTER, recover_interrupted
from core.lanes import SubmissionLanes
from core.notify import Render
from core.refill_sync import sync_refill_statuses
from core.status_sync import sync_order_statuses
from core.watch import check_balances, check_prices, check_stale_orders
from db.models import Provider
from payments import CryptoPayClient
from providers import ProviderRegistry
from scheduler import outbox
from scheduler.broadcasts import PROGRESS_INTERVAL, ProgressView, update_progress
from scheduler.pacing import Pacer
from scheduler.payments import expire_payments, poll_crypto_invoices
from scheduler.per_provider import PerProvider
from scheduler.sender import Keyboard, OutboxSender
from scheduler.setup import PeriodicJob
from telemetry import context as log_context
from telemetry import metrics

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

SEND_INTERVAL = 1.0
BALANCE_INTERVAL = 600.0
PRICE_INTERVAL = 3600.0
STALE_INTERVAL = 1800.0
STUCK_INTERVAL = 60.0
PAYMENT_EXPIRY_INTERVAL = 60.0
PROGRESS_LOOK = 30.0  # broadcast progress with no broadcast rows sent here (another replica's)
REPLICA_POLL = 2.0  # with replicas the submit job is how a lane sees another's orders
SYNC_BOUND = 600.0  # a provider's sync run longer than this is cut (its chunks so far kept)
WATCH_BOUND = 300.0


async def recover_on_startup(
    sessionmaker: async_sessionmaker[AsyncSession],
    admin_ids: frozenset[int],
    *,
    replicas: bool = False,
) -> list[int]:
    """Before the scheduler starts: orders caught mid-submission by a crash go to review
    (the provider may have them); nothing else changes. With replicas only stuck claims
    count (another process may be sending one); the periodic job catches the rest."""
    older_than = STUCK_AFTER if replicas else timedelta(0)
    async with sessionmaker() as session:
        ids = await recover_interrupted(session, admin_ids, older_than=older_than)
    if ids:
        log.warning("start-up: %d order(s) interrupted during submission moved to review", len(ids))
    if not replicas:  # with replicas the short lease frees them (another may be sending)
        released = await outbox.release_stale_claims(sessionmaker)
        if released:
            log.warning("start-up: %d notification(s) left mid-send are due again", released)
    return ids


async def recover_stuck(
    sessionmaker: async_sessionmaker[AsyncSession], admin_ids: frozenset[int]
) -> list[int]:
    """Claims older than any add can take: their process died (another replica's crash)."""
    async with sessionmaker() as session:
        ids = await recover_interrupted(session, admin_ids, older_than=STUCK_AFTER)
    if ids:
        log.warning("%d stuck submission(s) moved to review", len(ids))
    return ids


async def provider_ids(
    sessionmaker: async_sessionmaker[AsyncSession], *, enabled: bool = False
) -> list[int]:
    """The providers a per-provider job runs for; their names refresh the metrics' labels
    (a provider added on another replica is named here within one tick)."""
    async with sessionmaker() as session:
        query = select(Provider.id, Provider.name).order_by(Provider.id)
        if enabled:
            query = query.where(Provider.enabled)
        rows = (await session.execute(query)).all()
    for provider_id, name in rows:
        metrics.remember_provider(provider_id, name)
    return [int(provider_id) for provider_id, _ in rows]


def build_jobs(
    *,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    registry: ProviderRegistry,
    bot: Bot,
    render: Render,
    keyboard: Keyboard | None = None,
    pacer: Pacer | None = None,
    crypto_pay: CryptoPayClient | None = None,
    progress_view: ProgressView | None = None,
    lanes: SubmissionLanes,
    running: set[asyncio.Task[Any]] | None = None,
    **_: Any,
) -> list[PeriodicJob]:
    """The jobs; `running` is the scheduler's set of runs in flight (per-provider runs join
    it, so that shutdown waits for them like for any run)."""
    admins = settings.admin_ids
    submit_interval = settings.submit_interval_seconds
    if settings.runs_replicas:
        submit_interval = min(submit_interval, REPLICA_POLL)
    sender = OutboxSender(
        bot,
        sessionmaker,
        render,
        keyboard=keyboard,
        pacer=pacer,
        broadcast_rate=settings.broadcast_rate,
    )

    async def submit() -> None:
        """The safety net: new orders are sent by their lane at once (see core.lanes)."""
        await lanes.wake_due()

    # Per provider, each run bounded: one slow or hanging provider holds up only itself.
    def runs(name: str, bound: float) -> PerProvider:
        return PerProvider(name, bound, running if running is not None else set())

    order_syncs = runs("status sync", SYNC_BOUND)
    refill_syncs = runs("refill sync", SYNC_BOUND)
    balance_checks = runs("balance watch", WATCH_BOUND)
    price_checks = runs("price watch", WATCH_BOUND)

    async def sync_orders() -> None:
        async def one(provider_id: int) -> None:
            started = time.monotonic()
            with log_context.bound(provider=metrics.provider_label(provider_id)):
                report = await sync_order_statuses(
                    sessionmaker, registry, admin_ids=admins, provider_ids=[provider_id]
                )
            metrics.status_sync_cycle(provider_id, time.monotonic() - started)
            if report.changed or report.errors:
                log.info("status sync of provider %s: %s", provider_id, report)

        order_syncs.launch(await provider_ids(sessionmaker), one)

    async def sync_refills() -> None:
        async def one(provider_id: int) -> None:
            report = await sync_refill_statuses(sessionmaker, registry, provider_ids=[provider_id])
            if report.changed or report.errors:
                log.info("refill sync of provider %s: %s", provider_id, report)

        refill_syncs.launch(await provider_ids(sessionmaker), one)

    def send_at_once(run_soon: Callable[[], None]) -> None:
        """Rows committed in this process start the sender now (see OutboxSender.wake)."""

        def ring() -> None:
            sender.wake()
            run_soon()

        notify.ring_on_insert(sessionmaker, ring)

    progress_cue, next_progress_look = -1, 0.0

    async def broadcast_progress() -> None:
        """Asks the database while broadcast rows are being sent here, once more after each
        edit (the last rows' outcomes), and every PROGRESS_LOOK seconds otherwise."""
        nonlocal progress_cue, next_progress_look
        now = time.monotonic()
        if progress_view is None or (
            sender.broadcast_passes == progress_cue and now < next_progress_look
        ):
            return
        progress_cue = sender.broadcast_passes
        edited = await update_progress(bot, sessionmaker, progress_view)
        next_progress_look = now if edited else now + PROGRESS_LOOK

    async def balances() -> None:
        async def one(provider_id: int) -> None:
            await check_balances(
                sessionmaker,
                registry,
                admins,
                provider_ids=[provider_id],
                currency=settings.currency,
            )

        balance_checks.launch(await provider_ids(sessionmaker, enabled=True), one)

    async def prices() -> None:
        async def one(provider_id: int) -> None:
            await check_prices(
                sessionmaker,
                registry,
                admins,
                provider_ids=[provider_id],
                currency=settings.currency,
            )

        price_checks.launch(await provider_ids(sessionmaker, enabled=True), one)

    async def stuck() -> None:
        await recover_stuck(sessionmaker, admins)

    async def stale() -> None:
        await check_stale_orders(sessionmaker, admins, older_than=timedelta(hours=24))

    async def payment_expiry() -> None:
        await expire_payments(sessionmaker)

    jobs = [
        PeriodicJob("submit_orders", submit, submit_interval),
        PeriodicJob("sync_order_statuses", sync_orders, settings.status_sync_seconds),
        PeriodicJob("sync_refill_statuses", sync_refills, settings.status_sync_seconds),
        PeriodicJob("send_notifications", sender.drain, SEND_INTERVAL, woken_by=send_at_once),
        PeriodicJob("broadcast_progress", broadcast_progress, PROGRESS_INTERVAL),
        PeriodicJob("watch_provider_balances", balances, BALANCE_INTERVAL),
        PeriodicJob("watch_provider_prices", prices, PRICE_INTERVAL),
        PeriodicJob("watch_stale_orders", stale, STALE_INTERVAL),
        PeriodicJob("recover_stuck_submissions", stuck, STUCK_INTERVAL),
        PeriodicJob("expire_payments", payment_expiry, PAYMENT_EXPIRY_INTERVAL),
    ]
    if crypto_pay is not None:
        client = crypto_pay

        async def crypto_invoices() -> None:
            report = await poll_crypto_invoices(
                sessionmaker, client, currency=settings.currency, admin_ids=admins
            )
            if report.credited or report.expired or report.unmatched:
                log.info("Crypto Pay poll: %s", report)

        jobs.append(
            PeriodicJob("poll_crypto_invoices", crypto_invoices, settings.crypto_pay_poll_seconds)
        )
    return jobs
