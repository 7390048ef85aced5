"""order_flow: N customers order at once through the real Dispatcher.

Each customer is a chat fed real updates (Telegram's JSON, parsed by the bot as polling and
the webhook do): /neworder → category → service → link → quantity → ✅ Confirm. The Bot API
is answered in-process (LocalBotSession), the provider is bench.fake_provider over loopback
HTTP at the production pacing (the registry's defaults). The run ends when every order has
left the panel (provider order id stored), so the CPU figure is per *complete* order. SQL
statements per step are counted on one warm-up customer alone (no interleaving to
attribute); under load the total per order is printed. The CPU is also split in two: until
every customer's last step was handled (the chat, with the lanes already sending what was
confirmed) and after it (the lanes and the outbox alone).

Then the Confirm burst: the same customers each bring a second order to its confirmation,
and all press Confirm at the same moment; each Confirm is timed from that moment until it
was answered (the issue's goal: p99 ≤ 150 ms), with the process CPU per Confirm meanwhile.

The echo baseline is aiogram's own cost: a Dispatcher with one echo handler, fed as many
updates through the same local session.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiogram import Bot, Dispatcher, Router
from aiogram.types import Message, Update, User
from sqlalchemy import func, select

from bench.common import (
    BOT_USER,
    LocalBotSession,
    ProviderProcess,
    StatementCounter,
    cpu_seconds,
    percentile,
    scratch_database,
)
from bot.app import App, create_app
from bot.config import Settings
from core import billing
from core.notify import ORDER_PLACED
from core.statuses import OrderStatus
from db.engine import write_tx
from db.models import Category, Notification, Order, Provider, Service
from db.models import User as UserRow

IDLE_SECONDS = 5.0
STEPS = ("neworder", "category", "service", "link", "quantity", "confirm")
FIRST_CUSTOMER = 10_000_000
_update_ids = itertools.count(1)
_message_ids = itertools.count(1)


def message_update(user: User, text: str) -> dict[str, Any]:
    """An update as Telegram sends it (JSON): the bot parses it with itself bound, as
    polling and the webhook do (an Update object built without the bot would be re-created
    by aiogram through a JSON round trip, a cost the running bot never pays)."""
    message: dict[str, Any] = {
        "message_id": next(_message_ids), "date": int(time.time()),
        "chat": {"id": user.id, "type": "private"}, "from": _sender(user), "text": text,
    }  # fmt: skip
    if text.startswith("/"):
        length = len(text.split()[0])
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    return {"update_id": next(_update_ids), "message": message}


def callback_update(user: User, data: str) -> dict[str, Any]:
    message = {
        "message_id": next(_message_ids), "date": int(time.time()),
        "chat": {"id": user.id, "type": "private"}, "from": _sender(BOT_USER), "text": "menu",
    }  # fmt: skip
    query = {
        "id": str(next(_update_ids)), "from": _sender(user), "chat_instance": "ci",
        "data": data, "message": message,
    }  # fmt: skip
    return {"update_id": next(_update_ids), "callback_query": query}


def _sender(user: User) -> dict[str, Any]:
    return user.model_dump(exclude_none=True)


@dataclass
class FlowResult:
    customers: int
    orders: int = 0
    seconds: float = 0.0
    cpu_ms_per_order: float = 0.0
    chat_cpu_ms_per_order: float = 0.0
    after_chat_cpu_ms_per_order: float = 0.0
    orders_per_second: float = 0.0
    step_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    sql_per_step: dict[str, int] = field(default_factory=dict)
    sql_per_order_under_load: float = 0.0
    edit_delay_ms: dict[str, float] = field(default_factory=dict)
    idle_cpu_ms_per_second: float = 0.0
    burst_confirm_ms: dict[str, float] = field(default_factory=dict)
    burst_cpu_ms_per_confirm: float = 0.0
    burst_orders: int = 0
    echo_cpu_ms_per_update: float = 0.0
    flow_cpu_ms_per_update: float = 0.0
    ratio_to_echo: float = 0.0
    errors: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


async def seed(app: App, provider_url: str, api_key: str, customers: list[int]) -> None:
    async with app.sessionmaker() as session, write_tx(session):
        provider = Provider(name="bench", api_url=provider_url, api_key=api_key)
        category = Category(name="Instagram", platform="instagram", sort=1)
        session.add_all([provider, category])
        await session.flush()
        for n, name in enumerate(("Followers", "Likes", "Views", "Comments", "Saves")):
            session.add(
                Service(
                    category_id=category.id, name=f"Instagram {name}", price=Decimal("1.20"),
                    min=10, max=100_000, mode="auto", provider_id=provider.id,
                    provider_service_id=str(n + 1),
                )
            )  # fmt: skip
        for user_id in customers:
            session.add(UserRow(id=user_id, first_name="Bench", language="en"))
        await session.flush()
        for user_id in customers:
            await billing.credit(session, user_id, Decimal("100"), key=f"seed:{user_id}")


async def customer(
    app: App, bot_session: LocalBotSession, user: User, timings: dict[str, list[float]]
) -> None:
    """One customer's order, every step timed from feed to handled."""
    await to_confirmation(app, bot_session, user, timings)
    await _step(app, timings, "confirm", lambda: confirm_update(bot_session, user))


async def to_confirmation(
    app: App, bot_session: LocalBotSession, user: User, timings: dict[str, list[float]]
) -> None:
    """/neworder → category → service → link → quantity: the confirmation is showing."""
    chat = user.id
    await _step(app, timings, "neworder", lambda: message_update(user, "/neworder"))
    await _step(
        app, timings, "category",
        lambda: callback_update(user, bot_session.button(chat, "Instagram")),
    )  # fmt: skip
    await _step(
        app, timings, "service",
        lambda: callback_update(user, bot_session.button(chat, "Followers")),
    )  # fmt: skip
    await _step(
        app, timings, "link", lambda: message_update(user, "https://instagram.com/bench_user")
    )
    await _step(app, timings, "quantity", lambda: message_update(user, "1000"))


def confirm_update(bot_session: LocalBotSession, user: User) -> dict[str, Any]:
    return callback_update(user, bot_session.button(user.id, "Confirm"))


async def _step(
    app: App, timings: dict[str, list[float]], name: str, update: Callable[[], dict[str, Any]]
) -> None:
    started = time.perf_counter()
    await app.dp.feed_raw_update(app.bot, update())
    timings[name].append((time.perf_counter() - started) * 1000)


async def confirm_burst(
    app: App, bot_session: LocalBotSession, users: list[User]
) -> tuple[list[float], float]:
    """Every customer is brought to the confirmation first; then all press Confirm at the
    same moment. Returns each Confirm's time from that moment until it was answered, and
    the process CPU seconds of the burst."""
    timings: dict[str, list[float]] = {name: [] for name in STEPS}
    await asyncio.gather(*(to_confirmation(app, bot_session, u, timings) for u in users))
    presses = [confirm_update(bot_session, u) for u in users]
    answered: list[float] = []
    cpu, started = cpu_seconds(), time.perf_counter()

    async def press(update: dict[str, Any]) -> None:
        await app.dp.feed_raw_update(app.bot, update)
        answered.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(press(update) for update in presses))
    return answered, cpu_seconds() - cpu


async def wait_all_sent(app: App, orders: int, limit: float = 600.0) -> int:
    """Waits until every order has its provider order id (or left the queue); returns how
    many did. It looks twice a second: its own reads are counted in the bot's CPU and
    statements (every 50 ms they were ~1 s of CPU in a one-minute run)."""
    deadline = time.monotonic() + limit
    while True:
        async with app.sessionmaker() as session:
            done = await session.scalar(
                select(func.count())
                .select_from(Order)
                .where(Order.status.not_in([OrderStatus.QUEUED, OrderStatus.SUBMITTING]))
            )
        if done >= orders or time.monotonic() > deadline:
            return int(done or 0)
        await asyncio.sleep(0.5)


async def edit_delays(app: App, limit: float = 120.0) -> dict[str, float]:
    """Once every outcome edit has gone: p50/p99 ms from the provider's answer (the edit's
    outbox row, written with the order's outcome) to the edit sent."""
    deadline = time.monotonic() + limit
    placed = Notification.kind == ORDER_PLACED
    while True:
        async with app.sessionmaker() as session:
            rows = (await session.execute(
                select(Notification.created_at, Notification.sent_at).where(placed)
            )).all()  # fmt: skip
        if all(sent for _, sent in rows) or time.monotonic() > deadline:
            delays = [(s - c).total_seconds() * 1000 for c, s in rows if s]
            return {"p50": round(percentile(delays, 0.5)), "p99": round(percentile(delays, 0.99))}
        await asyncio.sleep(0.5)


async def idle_cpu(seconds: float) -> float:
    """CPU ms per second of the bot with nothing to do (its jobs ticking)."""
    cpu = cpu_seconds()
    await asyncio.sleep(seconds)
    return round((cpu_seconds() - cpu) * 1000 / seconds, 1)


def spread(values: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 0.50), 1),
        "p95": round(percentile(values, 0.95), 1),
        "p99": round(percentile(values, 0.99), 1),
    }


def make_user(user_id: int) -> User:
    return User(id=user_id, is_bot=False, first_name="Bench", language_code="en")


async def run_order_flow(customers: int, database: str | None) -> FlowResult:
    result = FlowResult(customers=customers)
    async with scratch_database(database) as url, ProviderProcess() as provider:
        settings = Settings(
            _env_file=None, bot_token="123456:BENCH-token", database_url=url,  # type: ignore[arg-type]
            admin_ids="1", status_sync_seconds=3600,
        )  # fmt: skip
        app = await create_app(settings, migrate=False)
        bot_session = LocalBotSession()
        for middleware in app.bot.session.middleware:  # what the app put on its session
            bot_session.middleware(middleware)
        app.bot.session = bot_session
        ids = [FIRST_CUSTOMER + i for i in range(customers + 1)]
        await seed(app, provider.url, provider.api_key, ids)
        counter = StatementCounter(app.engine)
        await app.dp.emit_startup(bot=app.bot, **app.dp.workflow_data)
        await asyncio.gather(*app.background)  # the command menus, before anything is counted
        try:
            # Warm-up: one customer alone (imports, caches), statements counted per step.
            warm: dict[str, list[float]] = {name: [] for name in STEPS}
            per_step = await _count_per_step(app, bot_session, make_user(ids[0]), warm, counter)
            await wait_all_sent(app, 1)
            result.sql_per_step = per_step
            timings: dict[str, list[float]] = {name: [] for name in STEPS}
            statements = counter.count
            cpu, started = cpu_seconds(), time.perf_counter()
            outcomes = await asyncio.gather(
                *(customer(app, bot_session, make_user(i), timings) for i in ids[1:]),
                return_exceptions=True,
            )
            chat_cpu = cpu_seconds() - cpu
            sent = await wait_all_sent(app, customers + 1) - 1
            cpu, elapsed = cpu_seconds() - cpu, time.perf_counter() - started
            result.chat_cpu_ms_per_order = round(chat_cpu * 1000 / max(sent, 1), 1)
            result.after_chat_cpu_ms_per_order = round((cpu - chat_cpu) * 1000 / max(sent, 1), 1)
            result.errors = sum(isinstance(o, BaseException) for o in outcomes)
            result.orders = sent
            result.seconds = round(elapsed, 2)
            result.cpu_ms_per_order = round(cpu * 1000 / max(sent, 1), 1)
            result.orders_per_second = round(sent / elapsed, 1)
            result.sql_per_order_under_load = round((counter.count - statements) / max(sent, 1), 1)
            result.flow_cpu_ms_per_update = round(cpu * 1000 / (customers * len(STEPS)), 2)
            result.step_ms = {name: spread(values) for name, values in timings.items()}
            result.edit_delay_ms = await edit_delays(app)
            result.idle_cpu_ms_per_second = await idle_cpu(IDLE_SECONDS)
            # The burst: the same customers, each at the confirmation of a second order
            # first, then all pressing Confirm at once (the lanes send as they are woken).
            answered, burst_cpu = await confirm_burst(
                app, bot_session, [make_user(i) for i in ids[1:]]
            )
            result.burst_confirm_ms = spread(answered)
            result.burst_cpu_ms_per_confirm = round(burst_cpu * 1000 / customers, 2)
            async with app.sessionmaker() as session:
                placed = await session.scalar(select(func.count()).select_from(Order))
            result.burst_orders = int(placed or 0) - sent - 1
        finally:
            await app.dp.emit_shutdown(bot=app.bot, **app.dp.workflow_data)
            await app.close()
    result.echo_cpu_ms_per_update = await echo_baseline(customers * len(STEPS))
    result.ratio_to_echo = round(
        result.flow_cpu_ms_per_update / max(result.echo_cpu_ms_per_update, 1e-9), 1
    )
    return result


async def _count_per_step(
    app: App,
    bot_session: LocalBotSession,
    user: User,
    timings: dict[str, list[float]],
    counter: StatementCounter,
) -> dict[str, int]:
    """Runs one customer's steps, reading the statement counter between them."""
    counts: dict[str, int] = {}
    before = counter.count
    original: Callable[..., Awaitable[Any]] = app.dp.feed_update
    order = iter(STEPS)

    async def counted(bot: Bot, update: Update, **kwargs: Any) -> Any:
        nonlocal before
        try:
            return await original(bot, update, **kwargs)
        finally:
            counts[next(order)] = counter.count - before
            before = counter.count

    app.dp.feed_update = counted  # type: ignore[method-assign]
    try:
        await customer(app, bot_session, user, timings)
    finally:
        del app.dp.feed_update
    return counts


async def echo_baseline(updates: int) -> float:
    """aiogram alone: CPU ms per update for a Dispatcher with one echo handler."""
    router = Router()

    @router.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "")

    dp = Dispatcher()
    dp.include_router(router)
    bot = Bot("123456:BENCH-token", session=LocalBotSession())
    users = [make_user(FIRST_CUSTOMER + i) for i in range(max(1, updates // len(STEPS)))]

    async def chat(user: User, count: int) -> None:
        for _ in range(count):
            await dp.feed_raw_update(bot, message_update(user, "hello"))

    await chat(users[0], 10)  # warm-up
    cpu = cpu_seconds()
    await asyncio.gather(*(chat(u, len(STEPS)) for u in users))
    return round((cpu_seconds() - cpu) * 1000 / (len(users) * len(STEPS)), 3)


def print_flow(result: FlowResult) -> None:
    print(
        f"order_flow: {result.customers} customers at once, {result.orders} orders sent in "
        f"{result.seconds} s: {result.orders_per_second} orders/s, bot CPU "
        f"{result.cpu_ms_per_order} ms/order, {result.sql_per_order_under_load} SQL/order "
        f"under load, {result.errors} errors"
    )
    print(
        f"  CPU per order: {result.chat_cpu_ms_per_order} ms until every customer's last step "
        f"was handled (lanes already sending), {result.after_chat_cpu_ms_per_order} ms after "
        "it until every order was sent"
    )
    print(
        f"  outcome edit p50 {result.edit_delay_ms.get('p50')} ms p99 "
        f"{result.edit_delay_ms.get('p99')} ms after the provider's answer; idle "
        f"{result.idle_cpu_ms_per_second} ms CPU per second ({IDLE_SECONDS:.0f} s, all sent)"
    )
    for name in STEPS:
        ms = result.step_ms.get(name, {})
        print(
            f"  {name:<9} p50 {ms.get('p50', 0):8.1f} ms  p95 {ms.get('p95', 0):8.1f} ms  "
            f"p99 {ms.get('p99', 0):8.1f} ms  SQL {result.sql_per_step.get(name, 0):3d}"
        )
    burst = result.burst_confirm_ms
    print(
        f"  Confirm burst ({result.burst_orders} of {result.customers} customers pressing "
        f"Confirm at once): p50 {burst.get('p50', 0):.1f} ms  p95 {burst.get('p95', 0):.1f} ms  "
        f"p99 {burst.get('p99', 0):.1f} ms, {result.burst_cpu_ms_per_confirm} ms CPU per Confirm"
    )
    print(
        f"  echo baseline {result.echo_cpu_ms_per_update} ms CPU/update; the flow "
        f"{result.flow_cpu_ms_per_update} ms/update = {result.ratio_to_echo}x echo"
    )
