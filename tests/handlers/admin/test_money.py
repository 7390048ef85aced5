"""/topup and /user: ledger rows with the admin id, audit, the customer's notification."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from core import notify
from core.admin_actions import topup
from core.statuses import LedgerKind
from db.models import AdminAuditLog, LedgerEntry, Notification
from tests.harness.console import connect_and_import, place, service_id_for
from tests.harness.ledger import balance, give_money
from tests.harness.settings import ADMIN_ID, CUSTOMER


async def test_topup_credits_notifies_and_audits(app, admin, customer) -> None:
    await customer.send("/start")
    reply = await admin.send(f"/topup {CUSTOMER} 12.5 <b>welcome</b> bonus")
    assert "Credited 12.50 USD to user 1001" in reply.text
    assert "New balance: 12.50 USD" in reply.text
    assert await balance(app.sessionmaker, CUSTOMER) == Decimal("12.5")
    async with app.sessionmaker() as session:
        entry = await session.scalar(select(LedgerEntry))
        note = await session.scalar(
            select(Notification).where(Notification.kind == notify.BALANCE_CHANGE)
        )
        audit = await session.scalar(select(AdminAuditLog))
    assert entry is not None and entry.admin_id == ADMIN_ID and entry.kind == LedgerKind.TOPUP
    assert entry.note == "<b>welcome</b> bonus"
    assert note is not None and note.chat_id == CUSTOMER
    assert note.payload == {
        "amount": "12.50000000",
        "balance": "12.50000000",
        "note": "<b>welcome</b> bonus",
        "currency": "USD",
    }
    assert audit is not None and audit.action == "balance.topup" and audit.target == "user:1001"
    assert audit.before is not None and Decimal(audit.before["balance"]) == 0
    # The customer sees it on /balance, with the (escaped) note.
    assert "Balance: 12.50 USD" in (await customer.send("/balance")).text


async def test_negative_topup_debits_but_never_below_zero(app, admin) -> None:
    await give_money(app.sessionmaker, CUSTOMER, "10")
    reply = await admin.send(f"/topup {CUSTOMER} -4 correction")
    assert "Debited 4.00 USD from user 1001" in reply.text
    assert await balance(app.sessionmaker, CUSTOMER) == Decimal(6)
    reply = await admin.send(f"/topup {CUSTOMER} -7")
    assert "Refused: user 1001 has 6.00 USD" in reply.text
    assert await balance(app.sessionmaker, CUSTOMER) == Decimal(6)
    async with app.sessionmaker() as session:
        kinds = list(await session.scalars(select(LedgerEntry.kind).order_by(LedgerEntry.id)))
    assert kinds == [LedgerKind.TOPUP, LedgerKind.ADMIN_DEBIT]


async def test_topup_bad_arguments_and_unknown_user(app, admin) -> None:
    for bad in ("/topup", "/topup 1001", "/topup x 5", "/topup 1001 abc", "/topup 1001 0",
                "/topup 1001 1.123456789"):  # fmt: skip
        assert "Usage: <code>/topup USER_ID AMOUNT [note]</code>" in (await admin.send(bad)).text
    reply = await admin.send("/topup 4242 5")
    assert "No user 4242" in reply.text


async def test_the_same_topup_message_credits_once(app) -> None:
    await give_money(app.sessionmaker, CUSTOMER, "1")
    async with app.sessionmaker() as session:
        for _ in range(2):
            await topup(session, CUSTOMER, Decimal(5), admin_id=ADMIN_ID, key="admin:9001:77")
    assert await balance(app.sessionmaker, CUSTOMER) == Decimal(6)


async def test_user_card_shows_balance_orders_and_ledger(app, admin, fake) -> None:
    await connect_and_import(admin, fake)
    await give_money(app.sessionmaker, CUSTOMER, "20", username="alice")
    followers = await service_id_for(app, "1")
    await place(app, followers, 1000)
    await admin.send(f"/topup {CUSTOMER} 5 gift")
    text = (await admin.send(f"/user {CUSTOMER}")).text
    assert "<b>User 1001</b> · Alice (@alice)" in text
    assert "Balance: 23.65 USD" in text  # 20 − 1.35 + 5
    assert "Orders: 1 (queued 1)" in text
    assert "Instagram Followers · queued · 1.35" in text
    assert "+5.00 topup by admin 9001 · gift → 23.65" in text
    assert "-1.35 order_charge #1" in text
    assert "Usage: <code>/user USER_ID</code>" in (await admin.send("/user")).text
    assert "No user 5" in (await admin.send("/user 5")).text
