"""/healthz and /metrics of the real app: the health of each part it depends on, and counters
that move when a customer orders, the provider answers and the outbox sends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from bot.app import App, create_app
from bot.health import CHECK_TIMEOUT, health_app
from db.migrate import upgrade
from providers import ProviderRegistry
from tests.e2e.test_ordering import KEY, order_in_chat
from tests.fakes.provider_server import FakeProvider
from tests.fakes.tcp_proxy import TcpProxy
from tests.fakes.telegram_server import FakeTelegram, run_polling
from tests.harness.databases import fresh_database
from tests.harness.e2e import app_on, polling_app
from tests.harness.ledger import balance, give_money
from tests.harness.order_seed import seed_catalog
from tests.harness.settings import ADMIN_ID, CUSTOMER, make_settings


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(
    scrape: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    """The sum of `name`'s samples whose labels include `labels` (0 when there is none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in scrape.items() if n == name and wanted <= ls)


async def scrape(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return samples(await response.text())


async def healthz(client: TestClient) -> tuple[int, dict[str, Any]]:
    response = await client.get("/healthz")
    return response.status, await response.json()


@pytest.fixture
async def health_client(tmp_path: Path) -> AsyncIterator[tuple[App, TestClient]]:
    """The app on a SQLite file, its scheduler running, and its health routes over HTTP."""
    app = await create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"))
    app.scheduler.start()
    try:
        async with TestClient(TestServer(health_app(app))) as client:
            yield app, client
    finally:
        await app.scheduler.stop()
        await app.close()


async def test_healthz_is_200_when_every_part_answers_and_503_naming_a_stopped_scheduler(
    health_client: tuple[App, TestClient],
) -> None:
    app, client = health_client
    status, body = await healthz(client)
    assert (status, body) == (200, {"ok": True, "checks": {"database": "ok", "scheduler": "ok"}})
    await app.scheduler.stop()
    status, body = await healthz(client)
    assert status == 503
    assert body["failed"] == ["scheduler"] and body["checks"]["scheduler"] == "stopped"
    assert body["checks"]["database"] == "ok"


async def test_healthz_names_redis_when_it_stops_answering(tmp_path: Path) -> None:
    """Redis behind a proxy that is then cut (or, without a test Redis, a port nobody
    listens on): the bot's other parts are fine, /healthz says Redis."""
    import os

    redis_url = os.environ.get("TEST_REDIS_URL")
    target = make_url(redis_url.replace("redis://", "postgresql://")) if redis_url else None
    async with TcpProxy(
        target.host if target else "127.0.0.1", target.port if target else 9
    ) as proxy:
        db = (target.database or "0") if target else "0"
        settings = make_settings(
            f"sqlite+aiosqlite:///{tmp_path / 'r.db'}",
            redis_url=f"redis://127.0.0.1:{proxy.port}/{db}",
        )
        app = await create_app(settings)
        app.scheduler.start()
        try:
            async with TestClient(TestServer(health_app(app))) as client:
                if redis_url:
                    assert (await healthz(client))[0] == 200
                await proxy.cut()
                started = time.monotonic()
                status, body = await healthz(client)
                assert time.monotonic() - started < CHECK_TIMEOUT + 2
                assert status == 503 and body["failed"] == ["redis"], body
                assert body["checks"]["redis"].startswith(("error", "timeout"))
                assert "127.0.0.1" not in str(body)  # the detail goes to the log, not out
        finally:
            await app.scheduler.stop()
            await app.close()


async def test_healthz_names_the_database_when_it_hangs_or_goes_away(tmp_path: Path) -> None:
    """PostgreSQL behind a proxy: connections that hang answer 503 'timeout' within the check's
    deadline (a load balancer must not wait on us); a database gone answers 503 'error'."""
    async with fresh_database("postgres", tmp_path) as url:
        real = make_url(url)
        async with TcpProxy(real.host or "127.0.0.1", real.port or 5432) as proxy:
            through = real.set(host="127.0.0.1", port=proxy.port)
            settings = make_settings(through.render_as_string(hide_password=False))
            app = await create_app(settings, migrate=False)
            app.scheduler.start()
            try:
                async with TestClient(TestServer(health_app(app))) as client:
                    assert (await healthz(client))[0] == 200
                    proxy.hang = True
                    await proxy.drop_connections()
                    seen = set()
                    for _ in range(3):  # the pooled connection fails first, then a new one hangs
                        started = time.monotonic()
                        status, body = await healthz(client)
                        assert time.monotonic() - started < CHECK_TIMEOUT + 2
                        assert status == 503 and body["failed"] == ["database"], body
                        seen.add(body["checks"]["database"])
                        if "timeout" in seen:
                            break
                    assert "timeout" in seen, seen
                    await proxy.cut()
                    status, body = await healthz(client)
                    assert status == 503 and body["failed"] == ["database"], body
                    assert body["checks"]["database"].startswith("error")
                    assert body["checks"]["scheduler"] == "ok"
            finally:
                await app.scheduler.stop()
                await app.close()


async def test_backlogs_are_counted_from_the_database_at_each_scrape(tmp_path: Path) -> None:
    """Waiting work of each kind is what the gauges say, read at scrape time."""
    from core import notify
    from db.engine import write_tx
    from db.models import Notification
    from tests.harness import seed

    app = await create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"))
    try:
        async with TestClient(TestServer(health_app(app))) as client:
            await give_money(app.sessionmaker, CUSTOMER, "10")
            async with app.sessionmaker() as session, write_tx(session):
                for status, remote in (("queued", None), ("queued", None), ("review", None),
                                       ("in_progress", "77"), ("pending", "78"), ("pending", None),
                                       ("completed", "79")):  # fmt: skip
                    await seed.order(session, CUSTOMER, status=status, provider_order_id=remote)
                for n in range(3):
                    notify.enqueue(session, CUSTOMER, notify.BALANCE_CHANGE, {"n": n})
                for chat in (2001, 2002):
                    session.add(
                        Notification(chat_id=chat, kind="broadcast", payload={}, broadcast_id=1)
                    )
            scraped = await scrape(client)
            assert value(scraped, "smm_orders_queued") == 2
            assert value(scraped, "smm_orders_in_review") == 1
            assert value(scraped, "smm_status_sync_backlog") == 2  # active, with a remote id
            assert value(scraped, "smm_outbox_backlog") == 3
            assert value(scraped, "smm_broadcast_backlog") == 2
    finally:
        await app.close()


async def test_metrics_move_when_a_customer_orders(tmp_path: Path) -> None:
    """A restart-like start (the catalogue is there first), then a whole order in the chat:
    placed, accepted, provider requests, outbox sent, submission latency, a status-sync cycle
    and an admin top-up show in the scrape; the backlogs are read from the database."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    await asyncio.to_thread(upgrade, url)
    registry = ProviderRegistry(read_timeout=2, connect_timeout=2, requests_per_second=1000)
    async with FakeTelegram() as tg, FakeProvider(api_key=KEY) as provider:
        from db.engine import create_engine, make_sessionmaker

        seed_engine = create_engine(url)
        await seed_catalog(
            make_sessionmaker(seed_engine), provider_url=provider.url, provider_key=KEY
        )
        await give_money(make_sessionmaker(seed_engine), CUSTOMER, "10")
        await seed_engine.dispose()
        async with (
            app_on(url, tg, registry=registry) as app,
            run_polling(app.dp, app.bot),
            TestClient(TestServer(health_app(app))) as client,
        ):
            before = await scrape(client)
            text, _ = await order_in_chat(
                tg.user(CUSTOMER, "Alice"), "https://instagram.com/alice", "1000"
            )
            assert "Pending" in text or "accepted" in text.lower(), text
            owner = tg.user(ADMIN_ID, "Owner")
            await owner.send(f"/topup {CUSTOMER} 5")
            await owner.wait_message("5.00", timeout=10)
            await tg.user(CUSTOMER, "Alice").wait_message(
                lambda m: "5.00" in m.text and not m.was_edit, timeout=15
            )
            assert await balance(app.sessionmaker, CUSTOMER) == Decimal("13.50")
            job = app.scheduler.get_job("sync_order_statuses")
            assert job is not None
            await job.func()  # one status-sync tick now, not in a minute
            for _ in range(100):
                after = await scrape(client)
                # The sender writes a sent message's outcome a moment after sending it (with
                # the next claim, or after a short linger): till then it is pending.
                if value(after, "smm_status_sync_seconds_count") > value(
                    before, "smm_status_sync_seconds_count"
                ) and not value(after, "smm_outbox_backlog"):
                    break
                await asyncio.sleep(0.1)
            # The provider then gives up on it: the sync's answer (applied in bulk) fails
            # and refunds it, and the failure is counted like any other.
            [remote] = provider.orders
            provider.set_status(remote, "Failed")
            await job.func()
            await tg.user(CUSTOMER, "Alice").wait_message("Failed", timeout=15)
            failed = await scrape(client)

        def moved(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        assert moved("smm_orders_placed_total", provider="fake") == 1
        assert moved("smm_orders_submitted_total", provider="fake") == 1
        assert moved("smm_order_submission_seconds_count", provider="fake") == 1
        assert (
            moved("smm_provider_requests_total", provider="fake", action="add", outcome="ok") == 1
        )
        assert moved("smm_provider_request_seconds_count", provider="fake", action="add") == 1
        assert (
            moved("smm_provider_requests_total", provider="fake", action="status", outcome="ok")
            == 1
        )
        assert moved("smm_status_sync_seconds_count", provider="fake") == 1
        assert (
            value(after, "smm_status_sync_last_success_timestamp_seconds", provider="fake")
            > time.time() - 60
        )
        assert moved("smm_outbox_sent_total") >= 2  # the confirmation edited, the top-up told
        assert moved("smm_balance_credited_total", method="admin") == 5
        assert moved("smm_orders_failed_total") == moved("smm_orders_review_total") == 0
        # Backlogs from the database at scrape time: the order is followed by the sync.
        assert value(after, "smm_status_sync_backlog") == 1
        assert value(after, "smm_orders_queued") == value(after, "smm_orders_in_review") == 0
        assert value(after, "smm_outbox_backlog") == value(after, "smm_broadcast_backlog") == 0
        assert value(after, "process_resident_memory_bytes") > 0  # the process' own, too
        assert (
            value(failed, "smm_orders_failed_total", provider="fake")
            - value(after, "smm_orders_failed_total", provider="fake")
            == 1
        )
        assert value(failed, "smm_status_sync_backlog") == 0


async def test_polling_bot_serves_health_on_its_port_and_logs_json_without_secrets(
    tmp_path: Path,
) -> None:
    """`python -m bot` polling with HEALTH_PORT and LOG_FORMAT=json: /healthz and /metrics on
    loopback while it runs; every line of its output one JSON object; neither the provider key
    nor the bot token in any of them."""
    import json
    import socket

    import httpx

    from tests.e2e.test_bot_process import start_bot, stop
    from tests.e2e.test_secrets_in_logs import ALICE, order_followers, until

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    secret_key = "pk-live-0a1b2c3d4e5f60718293a4b5c6d7e8f9"
    async with FakeTelegram() as tg, FakeProvider(api_key=secret_key) as provider:
        log_path = tmp_path / "bot.log"
        with log_path.open("wb") as log_file:
            process = await start_bot(
                tmp_path, tg, output=log_file, HEALTH_PORT=str(port), LOG_FORMAT="json",
                LOG_LEVEL="DEBUG",
            )  # fmt: skip
            try:
                await tg.wait_polling(timeout=90)
                owner = tg.user(9001, "Owner")
                await owner.send(f"/addprovider main {provider.url} {secret_key}")
                await owner.wait_message("connected", timeout=20)
                await owner.send("/import main 50")
                await owner.wait_message("Imported", timeout=20)
                alice = tg.user(ALICE, "Alice")
                await alice.send("/start")
                await alice.wait_message("Hello", timeout=15)
                await owner.send(f"/topup {ALICE} 10")
                await owner.wait_message("Credited", timeout=15)
                await order_followers(alice)
                await alice.wait_message("placed", timeout=20)
                await until(lambda: provider.count("add") == 1, "the provider got no add")
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
                    health = await http.get("/healthz")
                    assert health.status_code == 200, health.text
                    assert health.json()["checks"] == {"database": "ok", "scheduler": "ok"}
                    scraped = (await http.get("/metrics")).text
                assert (
                    'smm_provider_requests_total{action="balance",outcome="ok",provider="main"}'
                    in scraped
                )
                assert "smm_outbox_backlog" in scraped
                assert 'smm_orders_placed_total{provider="main"} 1.0' in scraped
            finally:
                code, _ = await stop(process)
        assert code == 0
        output = log_path.read_text()
        assert secret_key not in output and tg.token.split(":")[1] not in output
        lines = [json.loads(line) for line in output.splitlines() if line.strip()]
        assert lines and all(
            {"time", "level", "logger", "message"} <= line.keys() for line in lines
        )
        # The owner's /addprovider checks the key in the handler: user and provider named.
        assert any(line.get("user_id") == 9001 and line.get("provider") == "main" for line in lines)
        sending = [line for line in lines if "order_id" in line]  # the lane sending the order
        assert sending and all(line["provider"] == "main" for line in sending), sending
        # The lane outlives the update that woke it: it does not carry that user along.
        assert not any("user_id" in line for line in sending), sending
        assert any("add service=" in line["message"] for line in sending), sending


async def test_a_stars_top_up_delivered_twice_is_credited_once_in_the_metrics(
    database_url: str,
) -> None:
    from tests.e2e.test_stars_payments import buy_stars

    async with (
        FakeTelegram() as tg,
        polling_app(database_url, tg) as app,
        TestClient(TestServer(health_app(app))) as client,
    ):
        before = await scrape(client)
        alice = tg.user(CUSTOMER, "Alice")
        invoice = await buy_stars(alice)
        charge = await alice.pay(invoice)
        await alice.wait_message("Payment received")
        await alice.successful_payment(invoice.invoice_payload or "", 750, charge_id=charge)
        await alice.send("/balance")
        await alice.wait_message("Balance: 10.00 USD")
        after = await scrape(client)
    credited = value(after, "smm_balance_credited_total", method="stars")
    assert credited - value(before, "smm_balance_credited_total", method="stars") == 10
