"""Only ADMIN_IDS reach the console; everyone else gets exactly the unknown-command answer."""

from __future__ import annotations

import pytest
from aiogram.methods import SendMessage
from sqlalchemy import func, select

from db.models import AdminAuditLog, LedgerEntry
from handlers.admin.orders.callbacks import OrderAction
from tests.harness.console import place
from tests.harness.ledger import give_money

UNKNOWN = "Unknown command. Send /help to see what I can do."
COMMANDS = [
    "/admin",
    "/addprovider demo demo demo",
    "/providerset demo off",
    "/providers",
    "/check",
    "/import demo 30",
    "/services",
    "/map 1 demo 1",
    "/setprice 1 5",
    "/service 1 off",
    "/topup 1001 100",
    "/topup 2002 100",
    "/user 1001",
    "/order 1",
    "/review",
    "/resend 1",
    "/refund 1",
    "/setstatus 1 completed",
    "/stats",
    "/errors",
]


@pytest.mark.parametrize("command", COMMANDS)
async def test_non_admin_gets_the_unknown_command_answer(app, chat, command) -> None:
    mallory = chat(2002, first_name="Mallory")
    reply = await mallory.send(command)
    sends = [c for c in reply.calls if isinstance(c, SendMessage)]
    assert [c.text for c in sends] == [UNKNOWN]
    assert reply.buttons() == []


async def test_non_admin_changes_nothing(app, chat) -> None:
    await give_money(app.sessionmaker, 2002, "5")
    mallory = chat(2002, first_name="Mallory")
    await mallory.send("/topup 2002 100")
    await mallory.send("/addprovider demo demo demo")
    async with app.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(AdminAuditLog)) == 0
        assert await session.scalar(select(func.count()).select_from(LedgerEntry)) == 1


async def test_forged_admin_button_from_a_customer_is_a_stale_button(app, chat, admin) -> None:
    await admin.send("/addprovider demo demo demo")
    await admin.send("/import demo 50")
    await give_money(app.sessionmaker, 1001, "50")
    order = await place(app, 1)
    mallory = chat(2002)
    data = OrderAction(action="refund_ok", order_id=order.id).pack()
    reply = await mallory.press(data)
    assert [a.text for a in reply.alerts] == ["This button is no longer active."]
    assert reply.texts == []


async def test_admin_help_lists_the_commands(admin) -> None:
    text = (await admin.send("/admin")).text
    for command in ("/addprovider", "/import", "/check", "/topup", "/review", "/stats"):
        assert command in text
