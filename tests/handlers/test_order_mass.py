"""/massorder: preview of mixed lines, one Confirm for the valid ones, idempotent."""

from __future__ import annotations

import html
from decimal import Decimal
from typing import Any

import pytest
from aiogram.methods import EditMessageText, SendMessage
from sqlalchemy import event, update

from db.engine import write_tx
from db.models import Provider, Service
from handlers.mass_order.callbacks import MassCallback
from providers import ProviderRegistry
from tests.fakes.provider_server import FakeProvider
from tests.harness.ledger import balance, give_money
from tests.harness.order_seed import charges_of, fsm, notifications_of, orders_of, seed_catalog

ALICE = 1001


@pytest.fixture
async def catalog(app):
    return await seed_catalog(app.sessionmaker)


def mixed_lines(c) -> str:
    return "\n".join(
        [
            f"{c.followers} | https://instagram.com/alice | 1000",  # 1: ok, 2.00
            "this is not an order",  # 2: bad format
            "",  # blank lines are skipped but keep the numbering
            "99999 | https://instagram.com/alice | 1000",  # 4: unknown service
            f"{c.followers} | https://tiktok.com/@alice | 1000",  # 5: wrong platform
            f"{c.followers} | https://instagram.com/alice | 50",  # 6: below min
            f"{c.views} | tiktok.com/@alice/video/1 | 2000",  # 7: ok, 1.00
            f"{c.comments} | https://instagram.com/p/x | 3",  # 8: needs a list
            f"{c.likes} | https://instagram.com/p/x | many",  # 9: not a number
            f"{c.likes} | https://instagram.com/p/x | 120",  # 10: step
            f"{c.followers} | <script> | 100",  # 11: not a link
            f"#{c.package} | https://instagram.com/alice",  # 12: ok, package 5.00
        ]
    )


async def test_preview_lists_good_and_bad_lines_then_places_the_good_ones(
    app, chat, catalog
) -> None:
    await give_money(app.sessionmaker, ALICE, "10")
    alice = chat(ALICE)
    prompt = await alice.send("/massorder")
    assert "service_id | link | quantity" in prompt.text
    preview = await alice.send(mixed_lines(catalog))
    text = preview.text
    assert f"✅ Line 1: #{catalog.followers} Instagram Followers · 1000 · 2.00 USD" in text
    assert f"✅ Line 7: #{catalog.views} TikTok Views · 2000 · 1.00 USD" in text
    assert f"✅ Line 12: #{catalog.package} Instagram Starter Package · 1 · 5.00 USD" in text
    assert "❌ Line 2: bad format" in text
    assert "❌ Line 4: unknown service 99999" in text
    assert "❌ Line 5: bad link: this service takes Instagram links" in text
    assert "❌ Line 6: quantity below the minimum 100" in text
    assert "❌ Line 8: this service needs a list" in text
    assert "❌ Line 9: the quantity is not a number" in text
    assert "❌ Line 10: the quantity must be a multiple of 50" in text
    assert "❌ Line 11: bad link" in text
    assert "&lt;script&gt;" not in text and "<script>" not in text
    assert "Valid orders: 3 of 11" in text
    assert "Total charge: 8.00 USD" in text
    assert "Balance after: 2.00 USD" in text
    assert [label for label, _ in preview.buttons()] == ["✅ Confirm", "✖ Cancel"]
    assert await orders_of(app.sessionmaker, ALICE) == []

    data = preview.button("Confirm")
    done = await alice.press(data)
    orders = await orders_of(app.sessionmaker, ALICE)
    assert [o.service_id for o in orders] == [catalog.followers, catalog.views, catalog.package]
    assert [o.quantity for o in orders] == [1000, 2000, 1]
    for order in orders:
        assert f"#{order.id} · " in done.text
    assert "Mass order placed: 3 orders" in done.text
    assert await balance(app.sessionmaker, ALICE) == Decimal("2.00")

    again = await alice.press(data)  # double tap / replay
    assert "Already placed" in again.alerts[-1].text
    assert len(await orders_of(app.sessionmaker, ALICE)) == 3
    assert await charges_of(app.sessionmaker, ALICE) == 3
    assert await balance(app.sessionmaker, ALICE) == Decimal("2.00")


async def test_lines_under_the_command_in_the_same_message(app, chat, catalog) -> None:
    await give_money(app.sessionmaker, ALICE, "10")
    alice = chat(ALICE)
    preview = await alice.send(
        f"/massorder {catalog.followers} | instagram.com/a | 100\n"
        f"{catalog.followers} | instagram.com/b | 200"
    )
    assert "Valid orders: 2 of 2" in preview.text and "Total charge: 0.60 USD" in preview.text
    await alice.press_button("Confirm")
    assert [o.link for o in await orders_of(app.sessionmaker, ALICE)] == [
        "https://instagram.com/a",
        "https://instagram.com/b",
    ]


async def test_too_many_lines_is_refused_clearly(app, chat, catalog) -> None:
    alice = chat(ALICE)
    lines = "\n".join(f"{catalog.followers} | instagram.com/u{n} | 100" for n in range(51))
    reply = await alice.send(f"/massorder\n{lines}")
    assert "Too many lines: 51. At most 50" in reply.text
    assert await orders_of(app.sessionmaker, ALICE) == []


async def test_fifty_lines_preview_fits_telegram_messages(app, chat, catalog) -> None:
    await give_money(app.sessionmaker, ALICE, "1000")
    alice = chat(ALICE)
    long_link = "instagram.com/" + "x" * 1500
    lines = "\n".join(f"{catalog.followers} | {long_link}{n} | 100" for n in range(50))
    reply = await alice.send(f"/massorder\n{lines}")
    assert all(len(text) < 4096 for text in reply.texts)
    assert "Valid orders: 50 of 50" in reply.text
    await alice.press_button("Confirm")
    assert len(await orders_of(app.sessionmaker, ALICE)) == 50


async def test_fifty_orders_are_answered_at_once_and_refusals_shown_by_editing_them(
    app, chat
) -> None:
    """Confirm answers from the database (50 long lines hold in Telegram messages, 15 orders
    to a message); the lane then sends them: 50 provider refusals, each shown with its
    reason by editing the message that shows the order, money returned. The 50 answers
    coalesce into one edit per message, and no other message is sent."""
    async with FakeProvider(api_key="mass-key") as fake:
        registry = ProviderRegistry(read_retries=0, requests_per_second=1000)
        app.dp.workflow_data["registry"] = registry
        app.lanes.registry = registry
        catalog = await seed_catalog(
            app.sessionmaker, provider_url=fake.url, provider_key="mass-key"
        )
        await give_money(app.sessionmaker, ALICE, "1000")
        async with app.sessionmaker() as session, write_tx(session):
            service = await session.get(Service, catalog.auto)
            assert service is not None
            service.name = "Instagram Followers [Real, Refill 30 days, Instant] " + "x" * 60
        fake.respond("add", times=None, body={"error": "You have active order with this link."})
        alice = chat(ALICE)
        lines = "\n".join(f"{catalog.auto} | instagram.com/u{n} | 100" for n in range(50))
        await alice.send(f"/massorder\n{lines}")
        done = await alice.press_button("Confirm")
        assert fake.count("add") == 0  # answered before any provider was asked
        await app.lanes.settled()
        await registry.close()
    assert all(len(html.unescape(t)) < 4096 for t in done.texts)
    assert "Mass order placed: 50 orders" in done.texts[0]
    orders = await orders_of(app.sessionmaker, ALICE)
    assert len(orders) == 50 and all(f"#{o.id} · " in "".join(done.texts) for o in orders)
    assert [label for label, _ in done.buttons()] == ["📦 My orders", "🛒 New order"]
    assert {o.status for o in orders} == {"failed"}
    assert await balance(app.sessionmaker, ALICE) == Decimal("1000")
    # Each order is shown by the message it was listed in: the first replaced the preview.
    shown = [c.message_id if isinstance(c, EditMessageText) else None for c in done.calls]
    messages = [o.confirm_message_id for o in orders]
    assert len(set(messages)) == 4 and messages[0] == next(m for m in shown if m)
    told = await notifications_of(app.sessionmaker, ALICE)
    assert {n.kind for n in told} == {"mass_placed"}  # no status message per order
    edits = [n for n in told if n.status == "pending"]
    assert sorted(n.payload["message_id"] for n in edits) == sorted(set(messages))

    sent_before = len(app.bot.session.calls)
    await app.scheduler.get_job("send_notifications").func()
    calls = app.bot.session.calls[sent_before:]
    assert not [c for c in calls if isinstance(c, SendMessage)]
    edited = {c.message_id: c for c in calls if isinstance(c, EditMessageText)}
    assert sorted(edited) == sorted(set(messages))
    reason = "Failed: There is already an active order for this link"
    for order in orders:
        text = edited[order.confirm_message_id].text
        assert f"#{order.id} · " in text and reason in text
    last = edited[orders[-1].confirm_message_id]
    assert "returned to your balance" in last.text and last.reply_markup is not None
    assert len(html.unescape(max((e.text for e in edited.values()), key=len))) < 4096


async def test_each_line_shows_its_outcome_in_the_same_message(app, chat) -> None:
    """Accepted (pending, with the order number), refused (refunded, in plain words) and an
    unclear answer (awaiting review): one confirmation message shows all three, edited."""
    async with FakeProvider(api_key="mass-key") as fake:
        registry = ProviderRegistry(read_retries=0, requests_per_second=1000)
        app.dp.workflow_data["registry"] = registry
        app.lanes.registry = registry
        catalog = await seed_catalog(
            app.sessionmaker, provider_url=fake.url, provider_key="mass-key"
        )
        async with app.sessionmaker() as session, write_tx(session):
            await session.execute(update(Provider).values(concurrency=1))  # sends in order
        await give_money(app.sessionmaker, ALICE, "10")
        fake.respond("add", times=1, body={"order": 777})
        fake.respond("add", times=1, body={"error": "Incorrect link"})
        alice = chat(ALICE)
        await alice.send(
            "/massorder\n"
            + "\n".join(f"{catalog.auto} | instagram.com/u{n} | 100" for n in range(3))
        )
        done = await alice.press_button("Confirm")
        fake.set_fault("add", "malformed_json", times=1)  # the third: sent, answer unclear
        await app.lanes.settled()
        await registry.close()
    first, refused, unclear = await orders_of(app.sessionmaker, ALICE)
    assert (first.status, refused.status, unclear.status) == ("pending", "failed", "review")
    [message_id] = {o.confirm_message_id for o in (first, refused, unclear)}
    assert [c.message_id for c in done.calls if isinstance(c, EditMessageText)] == [message_id]

    sent_before = len(app.bot.session.calls)
    await app.scheduler.get_job("send_notifications").func()
    calls = [c for c in app.bot.session.calls[sent_before:] if c.chat_id == ALICE]
    [edit] = calls  # the three answers coalesced into one edit, no other message
    assert isinstance(edit, EditMessageText) and edit.message_id == message_id
    assert f"#{first.id} · " in edit.text and "— Pending" in edit.text
    assert f"#{refused.id} · " in edit.text and "The provider rejected the link" in edit.text
    assert f"#{unclear.id} · " in edit.text and "Awaiting review" in edit.text
    assert f"{refused.charge:.2f} USD was returned to your balance" in edit.text
    assert "checked by hand" in edit.text
    assert [b.text for row in edit.reply_markup.inline_keyboard for b in row] == [
        "📦 My orders",
        "🛒 New order",
    ]
    assert await balance(app.sessionmaker, ALICE) == Decimal("10") - first.charge - unclear.charge


async def test_not_enough_balance_for_the_total(app, chat, catalog) -> None:
    await give_money(app.sessionmaker, ALICE, "1")
    alice = chat(ALICE)
    reply = await alice.send(
        f"/massorder {catalog.followers} | instagram.com/a | 400\n"
        f"{catalog.followers} | instagram.com/b | 400"
    )
    assert "Total charge: 1.60 USD" in reply.text
    assert "Not enough balance (1.00 USD): 0.60 USD missing" in reply.text
    assert not any("Confirm" in label for label, _ in reply.buttons())
    assert await orders_of(app.sessionmaker, ALICE) == []


async def test_nothing_valid_offers_no_confirm(app, chat, catalog) -> None:
    alice = chat(ALICE)
    reply = await alice.send("/massorder garbage")
    assert "Nothing to order" in reply.text
    assert [label for label, _ in reply.buttons()] == ["✖ Cancel"]
    assert await fsm(app.dp, app.bot, ALICE).get_state() == "MassOrderFlow:lines"


async def test_forged_or_cancelled_confirm_does_nothing(app, chat, catalog) -> None:
    await give_money(app.sessionmaker, ALICE, "10")
    alice = chat(ALICE)
    preview = await alice.send(f"/massorder {catalog.followers} | instagram.com/a | 100")
    data = preview.button("Confirm")
    forged = await alice.press(MassCallback(action="confirm", nonce="00ff").pack())
    assert "no longer active" in forged.alerts[-1].text
    assert "Cancelled" in (await alice.send("/cancel")).text
    stale = await alice.press(data)
    assert "no longer active" in stale.alerts[-1].text
    assert await orders_of(app.sessionmaker, ALICE) == []
    assert await balance(app.sessionmaker, ALICE) == Decimal("10")


@pytest.mark.parametrize("step", ["lines", "confirm"])
async def test_cancel_from_each_mass_state(app, chat, catalog, step: str) -> None:
    await give_money(app.sessionmaker, ALICE, "10")
    alice = chat(ALICE)
    await alice.send("/massorder")
    if step == "confirm":
        await alice.send(f"{catalog.followers} | instagram.com/a | 100")
    assert await fsm(app.dp, app.bot, ALICE).get_state() == f"MassOrderFlow:{step}"
    assert "Cancelled" in (await alice.send("/cancel")).text
    assert await fsm(app.dp, app.bot, ALICE).get_state() is None


async def test_cancel_button_and_wrong_input(app, chat, catalog) -> None:
    alice = chat(ALICE)
    preview = await alice.send(f"/massorder {catalog.followers} | instagram.com/a | 100")
    reply = await alice.press(preview.button("Cancel"))
    assert "Cancelled" in reply.text
    assert await fsm(app.dp, app.bot, ALICE).get_state() is None


async def test_a_price_changed_after_the_preview_is_not_charged_unseen(app, chat, catalog) -> None:
    await give_money(app.sessionmaker, ALICE, "10")
    alice = chat(ALICE)
    preview = await alice.send(f"/massorder {catalog.followers} | instagram.com/a | 1000")
    assert "Total charge: 2.00 USD" in preview.text
    async with app.sessionmaker() as session, write_tx(session):
        service = await session.get(Service, catalog.followers)
        assert service is not None
        service.price = Decimal("3.00")
    reply = await alice.press_button("Confirm")
    assert "changed meanwhile" in reply.alerts[-1].text
    assert await orders_of(app.sessionmaker, ALICE) == []
    assert await balance(app.sessionmaker, ALICE) == Decimal("10")
    again = await alice.send(f"{catalog.followers} | instagram.com/a | 1000")
    assert "Total charge: 3.00 USD" in again.text


async def test_digit_like_symbols_are_bad_lines_not_a_crash(app, chat, catalog) -> None:
    await give_money(app.sessionmaker, ALICE, "10")
    alice = chat(ALICE)
    preview = await alice.send(
        f"/massorder ² | instagram.com/a | 100\n{catalog.followers} | instagram.com/b | 1⁰⁰"
    )
    assert "❌ Line 1: bad format" in preview.text
    assert "❌ Line 2: the quantity is not a number" in preview.text


async def test_losing_the_unique_key_race_answers_already_placed(
    app, chat, catalog, monkeypatch
) -> None:
    """PostgreSQL: the other tap commits the key after both our look-ups missed it, so our
    insert hits the unique key (a real IntegrityError) and core rolls back: the answer is
    still the orders already placed."""
    from core import mass_order as core_mass
    from core.ordering import OrderDraft
    from handlers.mass_order import confirm as mass_confirm

    real_lookup = core_mass.orders_by_key_prefix
    looked: list[str] = []

    async def stale_snapshot(session, user_id, key):
        """Our transaction's look-up ran before the other tap's commit; later ones see it."""
        looked.append(key)
        return [] if len(looked) == 1 else await real_lookup(session, user_id, key)

    real_place = mass_confirm.place_mass_order

    async def other_tap_commits_first(session, user_id, drafts, **options):
        other_drafts = [OrderDraft(catalog.followers, "https://instagram.com/a", 1000)]
        async with app.sessionmaker() as other:  # the concurrent tap
            await core_mass.place_mass_order(other, user_id, other_drafts, key=options["key"])
        monkeypatch.setattr(core_mass, "orders_by_key_prefix", stale_snapshot)
        return await real_place(session, user_id, drafts, **options)

    await give_money(app.sessionmaker, ALICE, "10")
    alice = chat(ALICE)
    await alice.send(f"/massorder {catalog.followers} | instagram.com/a | 1000")
    monkeypatch.setattr(mass_confirm, "place_mass_order", other_tap_commits_first)
    reply = await alice.press_button("Confirm")
    [order] = await orders_of(app.sessionmaker, ALICE)
    assert f"Already placed: #{order.id}" in reply.alerts[-1].text
    assert await balance(app.sessionmaker, ALICE) == Decimal("8.00")


async def test_confirm_reads_each_service_once_whatever_the_lines(app, chat) -> None:
    """Statements for a mass Confirm grow with the orders it writes (order, charge, history,
    balance), not with re-reading the same service for every line."""
    catalog = await seed_catalog(app.sessionmaker, provider_url=FakeProvider.closed_url())
    await give_money(app.sessionmaker, ALICE, "100")
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    app.lanes.running = False  # only the handler's own statements
    alice = chat(ALICE)
    lines = "\n".join(f"{catalog.auto} | instagram.com/u{n} | 100" for n in range(10))
    await alice.send(f"/massorder\n{lines}")
    event.listen(app.engine.sync_engine, "before_cursor_execute", seen)
    await alice.press_button("Confirm")
    event.remove(app.engine.sync_engine, "before_cursor_execute", seen)
    assert len(await orders_of(app.sessionmaker, ALICE)) == 10
    services = [s for s in statements if s.lstrip().startswith("SELECT") and "FROM services" in s]
    assert len(services) == 1, f"{len(services)} service reads"
    assert len(statements) <= 4 * 10 + 10, f"{len(statements)} statements"
