"""The outbox sender against the fake Bot API over HTTP (SPEC §9): delivered in the
recipient's language, paced, 429 obeyed, blocked users marked and skipped, failures retried."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from aiogram.methods import EditMessageText
from aiogram.utils.i18n import I18n
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from sqlalchemy import event, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import App
from bot.i18n import create_i18n
from core import notify
from core.alerts import AlertKind
from core.users import ensure_user
from db.engine import create_engine, make_sessionmaker, write_tx
from db.models import Notification, User
from db.types import utcnow
from handlers.notifications import renderer
from scheduler.jobs import recover_on_startup
from scheduler.pacing import Pacer
from scheduler.sender import OutboxSender
from tests.fakes.telegram_server import CHAT_NOT_FOUND, DEACTIVATED, FakeTelegram
from tests.harness.claims import claim_due

ALICE, BOB, CAROL = 1001, 1002, 1003
ADMIN = 9001


def status_payload(order_id: int = 42, old: str = "in_progress", new: str = "completed",
                   **extra: Any) -> dict[str, Any]:  # fmt: skip
    return {"order_id": order_id, "service": "Instagram Followers", "old": old, "new": new,
            "refund": None, "error_code": None, "remains": None} | extra  # fmt: skip


@dataclass
class Outbox:
    fake: FakeTelegram
    bot: Bot
    sm: async_sessionmaker[AsyncSession]
    i18n: I18n

    def sender(self, **kwargs: Any) -> OutboxSender:
        return OutboxSender(self.bot, self.sm, renderer(self.i18n, currency="USD"), **kwargs)

    async def users(self, *ids: int, language: str = "en") -> None:
        async with self.sm() as session, write_tx(session):
            for user_id in ids:
                session.add(User(id=user_id, first_name=f"User {user_id}", language=language))

    async def enqueue(self, chat_id: int, kind: str = notify.ORDER_STATUS,
                      payload: dict[str, Any] | None = None) -> int:  # fmt: skip
        async with self.sm() as session, write_tx(session):
            row = notify.enqueue(session, chat_id, kind, payload or status_payload())
            await session.flush()
            return row.id

    async def rows(self) -> dict[int, Notification]:
        async with self.sm() as session:
            return {n.id: n for n in await session.scalars(select(Notification))}

    async def user(self, user_id: int) -> User:
        async with self.sm() as session:
            user = await session.get(User, user_id)
            assert user is not None
            return user

    def texts(self, chat_id: int) -> list[str]:
        return [m.text for m in self.fake.history(chat_id)]

    async def drain(self, sender: OutboxSender, *, rounds: int = 10) -> None:
        for _ in range(rounds):
            report = await sender.run()
            if not report.claimed:
                return


@asynccontextmanager
async def outbox_replicas(fake: FakeTelegram, url: str) -> AsyncIterator[list[Outbox]]:
    """Two processes on one outbox: each its own engine, Bot and pacing (closed afterwards)."""
    engines = [create_engine(url) for _ in range(2)]
    bots = [fake.create_bot() for _ in engines]
    try:
        yield [
            Outbox(fake, bot, make_sessionmaker(engine), create_i18n("en"))
            for bot, engine in zip(bots, engines, strict=True)
        ]
    finally:
        for bot in bots:
            await bot.session.close()
        for engine in engines:
            await engine.dispose()


@pytest.fixture
async def outbox(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[Outbox]:
    async with FakeTelegram() as fake:
        bot = fake.create_bot(default=DefaultBotProperties(parse_mode=ParseMode.HTML))
        yield Outbox(fake, bot, sessionmaker, create_i18n("en"))
        await bot.session.close()


async def test_a_status_change_reaches_the_customer_as_one_message(outbox: Outbox) -> None:
    await outbox.users(ALICE)
    row_id = await outbox.enqueue(ALICE)
    report = await outbox.sender().run()
    assert report.sent == 1
    assert outbox.texts(ALICE) == ["#42 · Instagram Followers — In progress → Completed"]
    row = (await outbox.rows())[row_id]
    assert row.status == "sent" and row.sent_at is not None and row.attempts == 1
    assert (await outbox.sender().run()).claimed == 0  # never twice


async def test_refunds_reasons_and_escaping_are_in_the_message(outbox: Outbox) -> None:
    await outbox.users(ALICE)
    await outbox.enqueue(ALICE, payload=status_payload(
        7, "in_progress", "partial", refund="0.50000000", remains=250,
        service="<Likes & more>",
    ))  # fmt: skip
    await outbox.enqueue(ALICE, payload=status_payload(
        8, "queued", "failed", refund="2.00000000", error_code="invalid_link",
    ))  # fmt: skip
    await outbox.enqueue(ALICE, payload=status_payload(9, "submitting", "review"))
    await outbox.drain(outbox.sender())
    partial, failed, review = outbox.texts(ALICE)
    assert partial.startswith("#7 · <Likes & more> — In progress → Partial")
    assert "Not delivered: 250" in partial and "Refunded 0.50 USD" in partial
    assert failed.startswith("#8 · Instagram Followers — Queued → Failed")
    assert "link" in failed and "Refunded 2.00 USD" in failed
    assert review.startswith("#9 · Instagram Followers — Queued → Awaiting review")


def catalog_dir(tmp_path: Path) -> Path:
    """A Russian catalog with the words one status message needs."""
    words = {
        "#{order_id} · {service} — {old} → {new}": "#{order_id} · {service} — {old} → {new}",
        "In progress": "В работе",
        "Completed": "Выполнен",
    }
    for language in ("en", "ru"):
        catalog = Catalog(locale=language, domain="messages")
        for source, translated in words.items():
            catalog.add(source, translated if language == "ru" else source)
        folder = tmp_path / language / "LC_MESSAGES"
        folder.mkdir(parents=True)
        with (folder / "messages.mo").open("wb") as fh:
            write_mo(fh, catalog)
    return tmp_path


async def test_each_recipient_reads_their_own_language(outbox: Outbox, tmp_path: Path) -> None:
    outbox.i18n = I18n(path=catalog_dir(tmp_path), default_locale="en", domain="messages")
    await outbox.users(ALICE)
    await outbox.users(BOB, language="ru")
    await outbox.enqueue(ALICE)
    await outbox.enqueue(BOB)
    await outbox.enqueue(ADMIN)  # an admin who never wrote to the bot: the default language
    await outbox.sender().run()
    assert outbox.texts(ALICE) == ["#42 · Instagram Followers — In progress → Completed"]
    assert outbox.texts(BOB) == ["#42 · Instagram Followers — В работе → Выполнен"]
    assert outbox.texts(ADMIN) == ["#42 · Instagram Followers — In progress → Completed"]


async def test_telegram_429_is_obeyed_and_the_message_delivered_after_it(
    outbox: Outbox,
) -> None:
    await outbox.users(ALICE)
    row_id = await outbox.enqueue(ALICE)
    outbox.fake.fail_next("sendMessage", chat_id=ALICE, error_code=429, retry_after=1)
    report = await outbox.sender().run()
    refused, delivered = outbox.fake.calls_of("sendMessage")
    assert refused.error_code == 429 and delivered.ok
    assert delivered.at - refused.at >= 1.0
    assert report.sent == 1 and report.waited == 1 and report.failed == 0
    row = (await outbox.rows())[row_id]
    assert row.status == "sent" and row.attempts == 1  # the 429 is not a failed attempt
    assert outbox.texts(ALICE) == ["#42 · Instagram Followers — In progress → Completed"]


@pytest.mark.parametrize(
    ("code", "description"),
    [(403, "Forbidden: bot was blocked by the user"), (403, DEACTIVATED), (400, CHAT_NOT_FOUND)],
)
async def test_an_unreachable_user_is_marked_and_skipped(
    outbox: Outbox, code: int, description: str
) -> None:
    await outbox.users(ALICE, BOB)
    outbox.fake.block(BOB, code, description)
    first = await outbox.enqueue(BOB)
    second = await outbox.enqueue(BOB, payload=status_payload(43))
    delivered = await outbox.enqueue(ALICE)
    await outbox.drain(outbox.sender())
    assert len(outbox.fake.calls_of("sendMessage", chat_id=BOB)) == 1  # asked once only
    rows = await outbox.rows()
    assert rows[first].status == "skipped" and description in (rows[first].last_error or "")
    assert rows[second].status == "skipped" and rows[second].last_error
    assert rows[delivered].status == "sent"
    assert (await outbox.user(BOB)).is_blocked
    later = await outbox.enqueue(BOB, payload=status_payload(44))
    await outbox.drain(outbox.sender())
    assert len(outbox.fake.calls_of("sendMessage", chat_id=BOB)) == 1  # not asked again
    assert (await outbox.rows())[later].status == "skipped"
    # Writing to the bot again makes the user reachable again.
    outbox.fake.unblock(BOB)
    async with outbox.sm() as session:
        await ensure_user(session, BOB, first_name="Bob", username=None, language="en")
    await outbox.enqueue(BOB, payload=status_payload(45))
    await outbox.drain(outbox.sender())
    assert outbox.texts(BOB) == ["#45 · Instagram Followers — In progress → Completed"]


async def test_a_failed_send_is_retried_later_and_the_chat_keeps_its_order(
    outbox: Outbox,
) -> None:
    await outbox.users(ALICE)
    first = await outbox.enqueue(ALICE, payload=status_payload(1))
    second = await outbox.enqueue(ALICE, payload=status_payload(2))
    outbox.fake.fail_next("sendMessage", chat_id=ALICE, error_code=500)
    before = utcnow()
    report = await outbox.sender().run()
    assert report.failed == 1 and report.sent == 0
    rows = await outbox.rows()
    assert rows[first].status == "pending" and rows[first].attempts == 1
    assert "Internal Server Error" in (rows[first].last_error or "")
    assert rows[first].next_attempt_at >= before + timedelta(seconds=4)
    assert rows[second].status == "pending"  # waits behind the first one
    assert (await outbox.sender().run()).claimed == 0
    async with outbox.sm() as session, write_tx(session):  # the backoff has passed
        await session.execute(update(Notification).values(next_attempt_at=utcnow()))
    await outbox.drain(outbox.sender())
    assert [t.split(" ·")[0] for t in outbox.texts(ALICE)] == ["#1", "#2"]
    assert (await outbox.rows())[first].attempts == 2


async def test_pace_stays_within_telegram_limits(outbox: Outbox) -> None:
    chats = list(range(2001, 2031))
    await outbox.users(*chats, ALICE)
    for chat in chats:
        for order_id in (1, 2):
            await outbox.enqueue(chat, payload=status_payload(order_id))
    for order_id in range(1, 4):
        await outbox.enqueue(ALICE, payload=status_payload(order_id))
    await outbox.drain(outbox.sender())
    calls = outbox.fake.calls_of("sendMessage")
    assert len(calls) == 63 and all(c.ok for c in calls)
    times = sorted(c.at for c in calls)
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= 25, busiest
    for chat in [*chats, ALICE]:
        at = [c.at for c in calls if c.params["chat_id"] == chat]
        gaps = [b - a for a, b in itertools.pairwise(at)]
        assert gaps and min(gaps) >= 1.0, (chat, gaps)
    assert [t.split(" ·")[0] for t in outbox.texts(ALICE)] == ["#1", "#2", "#3"]


async def test_two_replicas_never_send_one_notification_twice(any_database_url: str) -> None:
    """Two processes (own engine, own Bot, own pacing) draining one outbox in small batches."""
    chats = list(range(3001, 3025))
    async with FakeTelegram() as fake, outbox_replicas(fake, any_database_url) as replicas:
        await replicas[0].users(*chats)
        for chat in chats:
            await replicas[0].enqueue(chat)
            await replicas[0].enqueue(chat, payload=status_payload(43))
        await asyncio.gather(
            *(r.drain(r.sender(batch=7), rounds=30) for r in (*replicas, replicas[0]))
        )
        rows = await replicas[0].rows()
    calls = fake.calls_of("sendMessage")
    assert sorted(c.params["chat_id"] for c in calls) == sorted(chats * 2)
    for chat in chats:
        assert [m.text.split(" ·")[0] for m in fake.history(chat)] == ["#42", "#43"]
    assert {n.status for n in rows.values()} == {"sent"}


ALERTS: list[tuple[str, dict[str, Any], Callable[[str], bool]]] = [
    (AlertKind.PROVIDER_NO_FUNDS, {"provider": "Main"}, lambda t: "Main" in t and "no funds" in t),
    (AlertKind.PROVIDER_KEY, {"provider": "Main", "message": "Invalid API key"},
     lambda t: "Invalid API key" in t),
    (AlertKind.PROVIDER_FAILING, {"provider": "Main", "failures": 3, "message": "<html> 502"},
     lambda t: "3 errors" in t and "<html> 502" in t),
    (AlertKind.ORDERS_REVIEW, {"order_id": 5, "reason": "timeout"}, lambda t: "#5" in t),
    (AlertKind.ORDERS_MANUAL, {"order_id": 6, "service": "Custom"}, lambda t: "#6" in t),
    (AlertKind.PROVIDER_LOW_BALANCE,
     {"provider": "Main", "balance": "3.00", "currency": "USD", "threshold": "10.00"},
     lambda t: "3.00 USD" in t and "10.00" in t),
    (AlertKind.PROVIDER_PRICE_ABOVE,
     {"service_id": 3, "service": "Likes", "provider": "Main", "price": "1.00",
      "rate": "1.20", "per": "1000"}, lambda t: "1.20" in t and "1.00" in t),
    (AlertKind.SERVICE_UNAVAILABLE,
     {"service_id": 3, "service": "Likes", "provider": "Main", "provider_service_id": "77"},
     lambda t: "77" in t),
    (AlertKind.STALE_ORDERS, {"count": 40, "order_ids": [1, 2, 3], "hours": 24},
     lambda t: "#1, #2, #3" in t and "37 more" in t),
    ("something_new", {"x": "<b>"}, lambda t: "something_new" in t and "<b>" in t),
]  # fmt: skip


async def test_admin_alerts_and_balance_changes_are_worded(outbox: Outbox) -> None:
    admins = [ADMIN + i for i in range(len(ALERTS))]  # one chat each: no per-chat pacing
    for admin, (kind, payload, _) in zip(admins, ALERTS, strict=True):
        await outbox.enqueue(admin, notify.ADMIN_ALERT, {"alert": kind, **payload})
    await outbox.users(ALICE)
    await outbox.enqueue(ALICE, notify.BALANCE_CHANGE, {"amount": "25", "balance": "30.5",
                                                        "note": "bonus <3"})  # fmt: skip
    await outbox.enqueue(ALICE, notify.BALANCE_CHANGE, {"amount": "-5", "balance": "25.5"})
    unknown = await outbox.enqueue(ALICE, "carrier_pigeon", {})
    await outbox.drain(outbox.sender())
    for admin, (kind, _, check) in zip(admins, ALERTS, strict=True):
        [text] = outbox.texts(admin)
        assert check(text), (kind, text)
    topped, reduced = outbox.texts(ALICE)
    assert "25.00 USD" in topped and "30.50 USD" in topped and "bonus <3" in topped
    assert "reduced by 5.00 USD" in reduced
    row = (await outbox.rows())[unknown]
    assert row.status == "skipped" and "carrier_pigeon" in (row.last_error or "")


async def test_a_long_retry_after_releases_the_other_chats_rows_instead_of_sleeping(
    outbox: Outbox,
) -> None:
    """A 429 with a long retry_after pauses every send. Rows of other chats must be released
    for later, not held (and slept on) past their lease, when another replica takes them."""
    await outbox.users(ALICE, BOB)
    alice = await outbox.enqueue(ALICE)
    await outbox.enqueue(BOB)
    bob_second = await outbox.enqueue(BOB, payload=status_payload(order_id=43))
    outbox.fake.fail_next("sendMessage", chat_id=ALICE, error_code=429, retry_after=600)
    report = await asyncio.wait_for(outbox.sender().run(), 10)
    rows = await outbox.rows()
    assert report.waited == 1 and report.postponed >= 2
    assert rows[alice].status == rows[bob_second].status == "pending"
    assert rows[alice].next_attempt_at > utcnow() + timedelta(seconds=500)
    assert all(row.attempts == 0 for row in rows.values() if row.status == "pending")
    assert "#43" not in " ".join(outbox.texts(BOB))
    # Nothing is due before the pause is over (Bob's rows keep their order behind it).
    assert (await outbox.sender().run()).claimed == 0


async def test_an_overlong_provider_string_still_makes_a_valid_message(outbox: Outbox) -> None:
    """Cutting the rendered HTML at 4096 left "<b>" unclosed: Telegram refused the message
    on every retry. A provider's 6000-character service name must still arrive, shortened."""
    name = "Followers & more " * 400
    row_id = await outbox.enqueue(ADMIN, notify.ADMIN_ALERT, {
        "alert": AlertKind.PROVIDER_PRICE_ABOVE, "service_id": 7, "service": name, "provider": "fp",
        "rate": "2.50", "per": "1000", "price": "2.00",
    })  # fmt: skip
    await outbox.drain(outbox.sender())
    [text] = outbox.texts(ADMIN)
    assert "Service 7" in text and "Followers & more" in text and "/setprice" in text
    assert (await outbox.rows())[row_id].status == "sent"


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="TEST_REDIS_URL not set")
async def test_two_replicas_share_telegrams_pace_through_redis(any_database_url: str) -> None:
    """With Redis the limits hold for the bot as a whole: two replicas together send at most
    25 messages in any second and at most one per chat per second (SPEC §9)."""
    from redis.asyncio import Redis

    from providers.ratelimit import RedisSlots
    from scheduler.pacing import SharedPacer

    redis = Redis.from_url(os.environ["TEST_REDIS_URL"])
    prefix = f"test-pace-{time.monotonic_ns()}:"
    chats = list(range(4001, 4041))
    engines = [create_engine(any_database_url) for _ in range(2)]
    async with FakeTelegram() as fake:
        bots = [fake.create_bot() for _ in engines]
        replicas = [
            Outbox(fake, bot, make_sessionmaker(engine), create_i18n("en"))
            for bot, engine in zip(bots, engines, strict=True)
        ]
        try:
            await replicas[0].users(*chats)
            for chat in chats:
                for order_id in (1, 2):
                    await replicas[0].enqueue(chat, payload=status_payload(order_id))
            await asyncio.gather(
                *(
                    r.drain(r.sender(batch=10, pacer=SharedPacer(RedisSlots(redis, prefix))))
                    for r in replicas
                )
            )
        finally:
            for bot in bots:
                await bot.session.close()
            for engine in engines:
                await engine.dispose()
            await redis.aclose()
    calls = fake.calls_of("sendMessage")
    assert len(calls) == 80
    times = sorted(c.at for c in calls)
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= 25, busiest
    for chat in chats:
        at = sorted(c.at for c in calls if c.params["chat_id"] == chat)
        assert at[1] - at[0] >= 1.0, (chat, at)


async def test_a_send_held_by_telegram_keeps_its_short_lease_renewed(
    any_database_url: str,
) -> None:
    """A 429 keeps a row in its run longer than the lease: the sender renews the lease, so
    another replica does not send the same message meanwhile."""
    async with FakeTelegram() as fake, outbox_replicas(fake, any_database_url) as (first, second):
        await first.users(ALICE)
        row_id = await first.enqueue(ALICE)
        fake.fail_next("sendMessage", chat_id=ALICE, error_code=429, retry_after=4)
        lease = timedelta(seconds=1.5)
        running = asyncio.create_task(first.sender(lease=lease).run())
        await asyncio.sleep(2.5)  # past the first lease, inside the 429's wait
        assert (await second.sender(lease=lease).run()).claimed == 0
        assert (await running).sent == 1
        row = (await first.rows())[row_id]
    assert len(fake.history(ALICE)) == 1
    assert row.status == "sent" and row.leased_until is None


async def test_a_restarted_lone_process_sends_what_it_was_sending_at_once(
    outbox: Outbox,
) -> None:
    """kill -9 while sending leaves rows leased; a lone process's start-up takes them back
    instead of waiting for the lease (with replicas the short lease runs out instead)."""
    await outbox.users(ALICE, BOB)
    alice, bob = await outbox.enqueue(ALICE), await outbox.enqueue(BOB)
    claimed = await claim_due(outbox.sm)  # the process that claimed them is killed here
    assert {row.id for row in claimed} == {alice, bob}
    assert (await outbox.sender().run()).claimed == 0  # leased: not before the lease ends
    await recover_on_startup(outbox.sm, frozenset({ADMIN}), replicas=True)
    assert (await outbox.sender().run()).claimed == 0  # replicas: another may be sending
    await recover_on_startup(outbox.sm, frozenset({ADMIN}), replicas=False)
    report = await outbox.sender().run()
    assert report.sent == 2
    assert len(outbox.texts(ALICE)) == len(outbox.texts(BOB)) == 1


async def test_an_abandoned_claim_is_free_again_after_the_short_lease(outbox: Outbox) -> None:
    await outbox.users(ALICE)
    await outbox.enqueue(ALICE)
    await claim_due(outbox.sm, lease=timedelta(seconds=1))
    assert (await outbox.sender().run()).claimed == 0
    await asyncio.sleep(1.2)
    assert (await outbox.sender().run()).sent == 1


def fast_pacer() -> Pacer:
    """Telegram's limits scaled up: these tests are about bookkeeping, not pace."""
    return Pacer(per_second=5000, chat_interval=0.001)


async def test_two_draining_senders_never_send_a_row_twice(any_database_url: str) -> None:
    """Two replicas, each woken by its own commits and drained like its job does (outcomes
    written by the next claim or after a short linger), while both keep inserting: every
    row goes once, each chat's rows in their order, and every row ends `sent`."""
    chats = list(range(5001, 5021))
    async with FakeTelegram() as fake, outbox_replicas(fake, any_database_url) as replicas:
        senders = [r.sender(batch=7, pacer=fast_pacer()) for r in replicas]
        for replica, sender in zip(replicas, senders, strict=True):
            notify.ring_on_insert(replica.sm, sender.wake)
        await replicas[0].users(*chats)
        stop = asyncio.Event()

        async def ticking(sender: OutboxSender) -> None:
            while not stop.is_set():
                await sender.drain()
                await asyncio.sleep(0.01)

        tickers = [asyncio.create_task(ticking(s)) for s in senders]
        for order_id in range(1, 4):
            for n, chat in enumerate(chats):
                await replicas[n % 2].enqueue(chat, payload=status_payload(order_id))

        async def all_sent() -> bool:
            rows = await replicas[0].rows()
            return {n.status for n in rows.values()} == {"sent"}

        deadline = time.monotonic() + 30
        while not await all_sent():
            assert time.monotonic() < deadline, "not everything was sent"
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.gather(*tickers)
    calls = fake.calls_of("sendMessage")
    assert sorted(c.params["chat_id"] for c in calls) == sorted(chats * 3)
    for chat in chats:
        assert [m.text.split(" ·")[0] for m in fake.history(chat)] == ["#1", "#2", "#3"]


async def test_a_failure_in_the_middle_of_a_batch_loses_no_other_outcome(
    outbox: Outbox, engine: AsyncEngine
) -> None:
    """One chat's send fails in the middle of a pass of four: the other three are sent and
    recorded, the failed one waits for its retry with its attempt counted; all outcomes of
    the pass are written by a fixed number of statements, however many rows it sent."""
    chats = [ALICE, BOB, CAROL, ADMIN]
    await outbox.users(*chats)
    ids = {chat: await outbox.enqueue(chat) for chat in chats}
    outbox.fake.fail_next("sendMessage", chat_id=BOB, error_code=500)
    updates: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE NOTIFICATIONS"):
            updates.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        report = await outbox.sender(pacer=fast_pacer()).run()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    assert (report.sent, report.failed) == (3, 1)
    assert len(updates) == 3  # the lease, the three sent rows, the failed one
    rows = await outbox.rows()
    for chat in (ALICE, CAROL, ADMIN):
        row = rows[ids[chat]]
        assert row.status == "sent" and row.attempts == 1 and row.leased_until is None
    failed = rows[ids[BOB]]
    assert failed.status == "pending" and failed.attempts == 1 and failed.leased_until is None
    assert failed.next_attempt_at > utcnow() + timedelta(seconds=3)
    assert len(outbox.fake.calls_of("sendMessage", chat_id=ALICE)) == 1


async def test_outcomes_the_database_refuses_are_kept_and_written_by_the_next_pass(
    outbox: Outbox,
) -> None:
    """The write of a pass's outcomes fails (the database refuses it): the rows stay leased
    to this sender, so nobody sends them again, and its next pass writes them."""
    await outbox.users(ALICE, BOB)
    alice, bob = await outbox.enqueue(ALICE), await outbox.enqueue(BOB)
    async with outbox.sm() as session, write_tx(session):
        await session.execute(text(
            "CREATE TRIGGER refuse_sent BEFORE UPDATE OF status ON notifications "
            "WHEN NEW.status = 'sent' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        ))  # fmt: skip
    sender = outbox.sender(pacer=fast_pacer())
    assert (await sender.run()).sent == 2
    rows = await outbox.rows()
    assert rows[alice].status == rows[bob].status == "pending"
    assert rows[alice].leased_until is not None and rows[bob].leased_until is not None
    assert (await outbox.sender().run()).claimed == 0  # another replica: still leased
    async with outbox.sm() as session, write_tx(session):
        await session.execute(text("DROP TRIGGER refuse_sent"))
    assert (await sender.run()).claimed == 0  # writes what it kept, claims nothing new
    rows = await outbox.rows()
    assert rows[alice].status == rows[bob].status == "sent"
    assert rows[alice].attempts == rows[bob].attempts == 1
    assert len(outbox.texts(ALICE)) == len(outbox.texts(BOB)) == 1


async def test_a_committed_row_is_sent_at_once_not_at_the_next_tick(app: App) -> None:
    """The sender is woken by the commit that inserted the row (an order's outcome, here
    the edit of its confirmation): with the tick an hour away, the edit still leaves within
    a moment, and its outcome is written soon after."""
    session_calls = app.bot.session.calls  # type: ignore[attr-defined]
    app.scheduler.start()
    try:
        app.scheduler.reschedule_job("send_notifications", trigger="interval", seconds=3600)
        async with app.sessionmaker() as session, write_tx(session):
            session.add(User(id=ALICE, first_name="Alice", language="en"))
        payload = {"order_id": 42, "service": "Instagram Followers", "status": "pending",
                   "error_code": None, "refunded": "0", "message_id": 77}  # fmt: skip
        async with app.sessionmaker() as session, write_tx(session):
            notify.enqueue(session, ALICE, notify.ORDER_PLACED, payload)
        committed = time.monotonic()
        while not any(isinstance(c, EditMessageText) for c in session_calls):
            assert time.monotonic() - committed < 5, "the edit waited for the tick"
            await asyncio.sleep(0.01)
        [edit] = [c for c in session_calls if isinstance(c, EditMessageText)]
        assert edit.chat_id == ALICE and edit.message_id == 77 and "#42" in edit.text

        async def recorded() -> bool:  # within the short linger, not at the tick
            async with app.sessionmaker() as session:
                return await session.scalar(select(Notification.status)) == "sent"

        while not await recorded():
            assert time.monotonic() - committed < 5, "the outcome waited for the tick"
            await asyncio.sleep(0.05)
    finally:
        await app.scheduler.stop()


async def test_an_idle_tick_asks_the_database_only_when_something_may_be_due(
    outbox: Outbox, engine: AsyncEngine
) -> None:
    """With nothing to send, the tick looks after 1, 2, 4 … seconds of nothing, never more
    than 10 s apart; a wake looks at once, and a retry this sender set is looked for when it
    comes due, whatever the backoff says."""
    now = [1000.0]
    sender = outbox.sender(pacer=fast_pacer(), clock=lambda: now[0])
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    async def looks_at(moment: float) -> bool:
        now[0] = 1000.0 + moment
        before = len(statements)
        await sender.drain()
        return len(statements) > before

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        ticks = [0, 0.5, 1, 1.5, 2, 3, 4, 5, 7, 8, 11, 14, 15, 19, 25, 30]
        looked = [t for t in ticks if await looks_at(t)]
        assert looked == [0, 1, 3, 7, 15, 25]  # 1, 2, 4, 8, then every 10 s
        await outbox.users(ALICE)
        row_id = await outbox.enqueue(ALICE)
        assert not await looks_at(26)  # committed by another process: no wake here
        sender.wake()
        outbox.fake.fail_next("sendMessage", chat_id=ALICE, error_code=500)
        assert await looks_at(27)  # the wake: sent at once, and failed
        assert (await outbox.rows())[row_id].attempts == 1
        for t in (28, 29, 30, 31):  # after work the tick looks again (nothing due yet)
            await looks_at(t)
        assert not await looks_at(31.5)
        assert await looks_at(32.1)  # its retry (5 s) is due: looked for then
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
