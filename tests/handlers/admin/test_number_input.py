"""Every number an admin types or a button carries goes through one strict parser: digit-like
symbols ("²", "½"), numbers beyond 64 bits, exponents and hex get a clear answer, never a
traceback, and change nothing (decimal digits of other scripts are numbers: "٣" is 3)."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from db.models import AdminAuditLog, LedgerEntry, Order, Service
from handlers.admin.orders.callbacks import OrderAction
from handlers.my_orders import OrderView
from handlers.order.callbacks import ServicePick
from tests.harness.console import connect_and_import, place, service_id_for
from tests.harness.ledger import give_money
from tests.harness.settings import CUSTOMER

ODD = ["²", "1⁰⁰", "9" * 25, "18446744073709551616", "--1", "1e3", "0x10", "NaN", "½", "٣.²"]
COMMANDS = [
    "/order {n}",
    "/user {n}",
    "/topup {n} 5",
    "/topup {customer} {n}",
    "/refund {n}",
    "/refund {order} {n}",
    "/setstatus {n} completed",
    "/setstatus {order} partial {n}",
    "/resend {n}",
    "/setprice {n} 2",
    "/setprice {service} {n}",
    "/service {n} off",
    "/map {n} fp 1",
    "/import fp {n}",
    "/providerset fp threshold {n}",
]


async def snapshot(app) -> tuple[int, int, list[Decimal]]:  # type: ignore[no-untyped-def]
    async with app.sessionmaker() as session:
        ledger = await session.scalar(select(func.count()).select_from(LedgerEntry)) or 0
        audits = await session.scalar(select(func.count()).select_from(AdminAuditLog)) or 0
        prices = list(await session.scalars(select(Service.price).order_by(Service.id)))
    return ledger, audits, prices


@pytest.mark.parametrize("odd", ODD)
async def test_odd_numbers_in_admin_commands_get_an_answer_and_change_nothing(
    app, admin, fake, caplog: pytest.LogCaptureFixture, odd: str
) -> None:
    await connect_and_import(admin, fake)
    service = await service_id_for(app, "1")
    await give_money(app.sessionmaker, CUSTOMER, "50")
    order = await place(app, service)
    before = await snapshot(app)
    caplog.clear()
    for template in COMMANDS:
        text = template.format(n=odd, customer=CUSTOMER, order=order.id, service=service)
        reply = await admin.send(text)
        assert reply.texts, text
        assert "Something went wrong" not in reply.text, (text, reply.text)
        assert await snapshot(app) == before, (text, reply.text)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert errors == [], [r.getMessage() for r in errors]


@pytest.mark.parametrize(
    "data",
    [
        OrderView(order_id=1, page=0).pack().replace(":1:", f":{2**64}:"),
        OrderView(order_id=1, page=0).pack().replace(":1:", ":²:"),
        ServicePick(service_id=1).pack().replace(":1", f":{'9' * 30}"),
        OrderAction(action="refund", order_id=1).pack().replace(":1", f":{2**63}"),
        "moa:cancel:99999999999999999999999:0",
    ],
)
async def test_forged_buttons_with_ids_beyond_64_bits_are_stale_not_a_traceback(
    app, admin, customer, caplog: pytest.LogCaptureFixture, data: str
) -> None:
    await customer.send("/start")
    caplog.clear()
    for chat in (customer, admin):
        reply = await chat.press(data)
        assert any("no longer active" in (a.text or "") for a in reply.alerts), reply.calls
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert errors == [], [r.getMessage() for r in errors]
    async with app.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Order)) == 0


async def test_decimal_digits_of_other_scripts_are_numbers(app, admin, customer) -> None:
    await customer.send("/start")
    reply = await admin.send(f"/topup {CUSTOMER} ٣")  # Arabic-Indic three
    assert "Credited 3.00 USD" in reply.text
    assert "Credited 12.00 USD" in (await admin.send("/topup １００１ １２")).text  # fullwidth
