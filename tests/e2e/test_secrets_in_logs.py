"""`python -m bot` at DEBUG through a whole session: no provider key, no bot token in its output.

Connect, import, top up, orders (accepted and ambiguous), provider errors that echo the key,
a /check, and a write the database refuses (its traceback is logged) — every line the process
printed is searched for the secrets.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from db.migrate import upgrade
from tests.e2e.test_bot_process import start_bot, stop
from tests.fakes.provider_server import FakeProvider
from tests.fakes.telegram_server import FakeTelegram

KEY = "pk-live-5f2a9c7e1b3d4f6a8c0e2b4d6f8a0c2e"
KEY2 = "pk-live-77aa88bb99cc00dd11ee22ff33gg44hh"
OWNER, ALICE = 9001, 1001


async def refuse_provider_named_broken(database_url: str) -> None:
    """The database refuses to store the provider "broken" (a failed write with its key)."""
    import aiosqlite

    await asyncio.to_thread(upgrade, database_url)
    async with aiosqlite.connect(database_url.split("///", 1)[1]) as db:
        await db.execute(
            "CREATE TRIGGER refuse_broken BEFORE INSERT ON providers WHEN NEW.name = 'broken' "
            "BEGIN SELECT RAISE(ABORT, 'no_space_left'); END"
        )
        await db.commit()


async def order_followers(alice, quantity: str = "1000") -> None:  # type: ignore[no-untyped-def]
    # Generous waits: a DEBUG process on a busy machine is slow.
    await alice.send("/neworder")
    await alice.press("Instagram", timeout=15)
    await alice.press("Instagram Followers", timeout=15)
    await alice.wait_message("Service ID", timeout=15)
    await alice.send("https://instagram.com/alice")
    await alice.wait_message("How many?", timeout=15)
    await alice.send(quantity)
    await alice.wait_message("drip-feed", timeout=15)  # the fake's followers offer it
    await alice.press("All at once", timeout=15)
    await alice.wait_message("Please check your order", timeout=15)
    await alice.press("✅ Confirm", timeout=15)


async def until(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(150):  # 15 s
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} in 15 s")


async def test_no_secret_reaches_the_output_of_a_debug_session(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    await refuse_provider_named_broken(database_url)
    async with (
        FakeTelegram() as tg,
        FakeProvider(api_key=KEY, balance="250") as provider,
        FakeProvider(api_key=KEY2) as other,
    ):
        log_path = tmp_path / "bot.log"
        log_file = log_path.open("wb")
        process = await start_bot(
            tmp_path,
            tg,
            output=log_file,
            LOG_LEVEL="DEBUG",
            DATABASE_URL=database_url,
            SUBMIT_INTERVAL_SECONDS="1",
            STATUS_SYNC_SECONDS="1",
        )
        try:
            await tg.wait_polling(timeout=90)  # a loaded machine starts slowly
            owner, alice = tg.user(OWNER, "Owner"), tg.user(ALICE, "Alice")
            await owner.send(f"/addprovider main {provider.url} {KEY}")
            await owner.wait_message("connected", timeout=15)
            await owner.send("/import main 50")
            await owner.wait_message("Imported", timeout=15)
            await alice.send("/start")
            await alice.wait_message("Hello")
            await owner.send(f"/topup {ALICE} 10")
            await owner.wait_message("Credited", timeout=10)

            await order_followers(alice)  # accepted
            await alice.wait_message("placed", timeout=15)
            await until(lambda: provider.count("add") == 1, "the provider got no add")
            provider.set_fault("add", "malformed_json", times=1)
            await order_followers(alice)  # ambiguous: review
            await alice.wait_message("awaiting review", timeout=15)

            # Provider errors that carry the key back, on every kind of call.
            provider.respond("balance", body={"error": f"Invalid API key {KEY}"}, times=None)
            provider.respond(
                "status", http_status=503, content_type="text/html",
                body_text=f"<html>key {KEY} blocked</html>", times=None,
            )  # fmt: skip
            polled = provider.count("status")
            await owner.send("/check")
            await owner.wait_message("main", timeout=20)
            # status sync runs into the 503s (the pending order is polled every second)
            await until(lambda: provider.count("status") >= polled + 1, "status sync never asked")

            # A write the database refuses: the handler fails, its traceback is logged.
            await owner.send(f"/addprovider broken {other.url} {KEY2}")
            await owner.wait_message("Something went wrong", timeout=15)
        finally:
            code, _ = await stop(process)
            log_file.close()
    output = log_path.read_text(encoding="utf-8", errors="replace")
    assert code == 0, output[-3000:]
    assert " DEBUG " in output and "no_space_left" in output  # the failure was logged
    assert "503" in output  # so was the status sync's failure, which echoed the key
    token_secret = tg.token.split(":", 1)[1]
    for secret in (KEY, KEY2, token_secret):
        assert secret not in output, f"a secret reached the log: …{secret[-6:]}"
    assert "<redacted>" in output or "hidden due to hide_parameters" in output
