"""Submission lanes: a placed order goes to its provider at once, never in the chat's path.

One lane per provider. Placing an order wakes its lane (``wake``, an in-process signal);
orders placed by another replica are found by the periodic submit job (``wake_due``, every
few seconds with replicas). A lane claims due orders of its
provider one at a time per worker (``concurrency`` workers, the provider's setting; the
client's own lane paces the requests), so a slow, refusing or hanging provider holds up its
own orders only. A provider in backoff or switched off is left until the periodic job, the
safety net, wakes its lane again (restarts, providers back from backoff). An order that
fails over to another provider's mapping is handed to that provider's lane (woken at once),
so it is sent at that provider's concurrency and pace, and never from this lane's workers.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.claims import due_queued_orders
from core.routing import RouteCache
from core.statuses import OrderStatus
from core.submission import submit
from db.models import Order, Provider
from db.types import utcnow
from providers import ProviderRegistry
from telemetry import context as log_context
from telemetry import metrics

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 4


class SubmissionLanes:
    """Lanes start on demand (``wake`` never blocks) and stop with the bot."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        registry: ProviderRegistry,
        admin_ids: frozenset[int],
        *,
        idle_after: float = 30.0,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.registry = registry
        self.admin_ids = admin_ids
        self.idle_after = idle_after
        self._signals: dict[int, asyncio.Event] = {}
        self._lanes: dict[int, asyncio.Task[None]] = {}
        self._draining: set[int] = set()
        self.routes = RouteCache()  # every service's mappings, for routing each order
        self.running = True

    def wake(self, provider_id: int | None) -> None:
        """An order of this provider was just placed: its lane looks now."""
        if provider_id is None or not self.running:
            return
        self._signal(provider_id).set()
        lane = self._lanes.get(provider_id)
        if lane is None or lane.done():
            # A fresh context: the lane outlives the update that woke it and sends other
            # customers' orders, so it must not carry that update's log fields.
            self._lanes[provider_id] = asyncio.create_task(
                self._lane(provider_id),
                name=f"submission lane {provider_id}",
                context=contextvars.Context(),
            )

    async def wake_due(self) -> list[int]:
        """The safety net (the periodic submit job): wake the lane of every provider with due
        orders — placed by another replica, left by a restart, or back from backoff."""
        async with self.sessionmaker() as session:
            providers = await _providers_with_due_orders(session)
        for provider_id in providers:
            self.wake(provider_id)
        return providers

    async def stop(self) -> None:
        """Stop taking orders; an add in flight finishes its transaction (bounded)."""
        self.running = False
        for signal in self._signals.values():
            signal.set()
        tasks = [t for t in self._lanes.values() if not t.done()]
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=20)
        for task in late:
            task.cancel()

    async def settled(self) -> None:
        """Until no lane has work in hand or signalled (tests, the benchmark)."""
        busy = lambda: self._draining or any(s.is_set() for s in self._signals.values())  # noqa: E731
        while self.running and busy():  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    # --- inside ---------------------------------------------------------------------------

    def _signal(self, provider_id: int) -> asyncio.Event:
        return self._signals.setdefault(provider_id, asyncio.Event())

    async def _lane(self, provider_id: int) -> None:
        signal = self._signal(provider_id)
        while self.running:
            self._draining.add(provider_id)
            signal.clear()
            try:
                done = await self._drain(provider_id)
            except Exception:
                log.exception("submission lane %s failed; it looks again later", provider_id)
                done = 0
            finally:
                self._draining.discard(provider_id)
            if done:
                continue  # more may have arrived meanwhile
            try:
                await asyncio.wait_for(signal.wait(), timeout=self.idle_after)
            except TimeoutError:
                return  # idle: the next order or the periodic job starts it again

    async def _drain(self, provider_id: int) -> int:
        """Due orders of this provider, `concurrency` at a time; stops early when the
        provider goes into backoff. Returns how many were handled."""
        async with self.sessionmaker() as session:
            concurrency = await _concurrency(session, provider_id)
            ids = await due_queued_orders(session, concurrency * 4, provider_id=provider_id)
            await session.commit()  # the row locks end here; claiming is conditional
        if not ids:
            return 0
        backoff = asyncio.Event()
        slots = asyncio.Semaphore(concurrency)
        provider = metrics.provider_label(provider_id)  # what the log lines are about

        async def one(order_id: int) -> int:
            async with slots:
                if backoff.is_set() or not self.running:
                    return 0
                with log_context.bound(order_id=order_id, provider=provider):
                    async with self.sessionmaker() as session:
                        order = await submit(
                            session,
                            self.registry,
                            order_id,
                            admin_ids=self.admin_ids,
                            notify_customer=True,
                            hand_over=self.wake,  # a backup's send goes through its own lane
                            routes=self.routes,
                        )
                stayed = order is not None and order.provider_id == provider_id
                if stayed and order.status == OrderStatus.QUEUED:
                    backoff.set()  # the provider went into backoff: the rest waits
                return 1

        handled = sum(await asyncio.gather(*(one(i) for i in ids)))
        return 0 if backoff.is_set() else handled


async def _concurrency(session: AsyncSession, provider_id: int) -> int:
    value = await session.scalar(select(Provider.concurrency).where(Provider.id == provider_id))
    return int(value or DEFAULT_CONCURRENCY)


async def _providers_with_due_orders(session: AsyncSession) -> list[int]:
    now = utcnow()
    rows = await session.scalars(
        select(Order.provider_id)
        .where(
            Order.status == OrderStatus.QUEUED,
            Order.provider_id.is_not(None),
            Order.next_attempt_at.is_(None) | (Order.next_attempt_at <= now),
        )
        .distinct()
    )
    return [int(p) for p in rows]


__all__ = ["SubmissionLanes"]
