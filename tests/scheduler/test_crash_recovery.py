"""`python -m bot` killed with SIGKILL while an order's add request is in flight (SPEC §5.3):
the next start moves that order to review, nothing is ordered twice, nothing else changes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from core.ordering import OrderDraft, place_order
from core.statuses import OrderStatus
from db.models import LedgerEntry, Order, User
from tests.fakes.provider_server import FakeProvider
from tests.fakes.telegram_server import FakeTelegram
from tests.harness.panel import Panel, seed_panel
from tests.harness.settings import ADMINS, CUSTOMER

ROOT = Path(__file__).resolve().parents[2]
ADMIN = next(iter(ADMINS))


async def start_bot(
    tmp_path: Path, fake: FakeTelegram, database_url: str
) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "TELEGRAM_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        BOT_TOKEN=fake.token,
        TELEGRAM_API_URL=fake.base_url,
        DATABASE_URL=database_url,
        ADMIN_IDS=str(ADMIN),
        SUBMIT_INTERVAL_SECONDS="1",
        STATUS_SYNC_SECONDS="60",
        LOG_LEVEL="INFO",
    )
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def eventually(check: Callable[[], Awaitable[bool] | bool], within: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)


async def snapshot(panel: Panel) -> dict[str, Any]:
    async with panel.sm() as session:
        orders = {
            o.id: (o.status, o.refunded, o.provider_order_id, o.attempts)
            for o in await session.scalars(select(Order))
        }
        ledger = await session.scalar(select(func.count()).select_from(LedgerEntry))
        balance = (await session.get(User, CUSTOMER)).balance  # type: ignore[union-attr]
    return {"orders": orders, "ledger": ledger, "balance": balance}


async def test_a_process_killed_during_submission_leaves_the_order_for_review(
    tmp_path: Path, database_url: str
) -> None:
    async with FakeProvider(api_key="crash-key", timeout_sleep=120) as provider, \
            FakeTelegram() as telegram:  # fmt: skip
        panel = await seed_panel(database_url, provider)
        try:
            # Other orders in other states: none of them may change.
            await panel.add_orders(2)  # pending at the provider, still Pending there
            await panel.add_orders(1, status=OrderStatus.COMPLETED, remote_status="Completed")
            await panel.add_orders(1, status=OrderStatus.REVIEW)
            await panel.add_orders(1, status=OrderStatus.MANUAL)
            async with panel.sm() as session:
                draft = OrderDraft(panel.service_id, "https://instagram.com/crash", 500)
                placed = await place_order(session, CUSTOMER, draft, key="crash", admin_ids=ADMINS)
                queued = placed.order
            before = await snapshot(panel)
            provider.set_fault("add", "timeout")  # the provider takes the order, then hangs

            first = await start_bot(tmp_path, telegram, database_url)
            try:
                await eventually(lambda: provider.count("add") == 1)
                async with panel.sm() as session:
                    in_flight = await session.get(Order, queued.id)
                    assert in_flight is not None and in_flight.status == OrderStatus.SUBMITTING
            finally:
                first.send_signal(signal.SIGKILL)
                await first.wait()
            assert first.returncode == -signal.SIGKILL

            polls = len(telegram.calls_of("getUpdates"))
            second = await start_bot(tmp_path, telegram, database_url)
            try:
                await telegram.wait_call("getUpdates", count=polls + 1, timeout=30)
                async with panel.sm() as session:
                    recovered = await session.get(Order, queued.id)
                    assert recovered is not None and recovered.status == OrderStatus.REVIEW
                # The customer and the admins are told; the submitter never resends it.
                await telegram.wait_for(lambda: telegram.history(CUSTOMER), timeout=15)
                await telegram.wait_for(lambda: telegram.history(ADMIN), timeout=15)
                await asyncio.sleep(1.5)  # another submission round or two
            finally:
                second.send_signal(signal.SIGTERM)
                _, err = await asyncio.wait_for(second.communicate(), timeout=20)
            assert second.returncode == 0, err.decode()[-2000:]
            assert "Traceback" not in err.decode(), err.decode()[-3000:]

            assert provider.count("add") == 1  # never ordered twice
            [told] = [m.text for m in telegram.history(CUSTOMER)]
            assert told.startswith(f"#{queued.id} · Instagram Followers — Queued → Awaiting review")
            assert any(f"#{queued.id}" in m.text for m in telegram.history(ADMIN))
            after = await snapshot(panel)
            changed = after["orders"].pop(queued.id)
            before["orders"].pop(queued.id)
            assert changed[0] == OrderStatus.REVIEW and changed[1] == Decimal(0)
            assert after == before  # every other order, the ledger and the balance as they were
        finally:
            await panel.close()
