"""/balance: the ledger tail stays one Telegram message whatever the admins' notes hold."""

from __future__ import annotations

from decimal import Decimal

from core import billing
from db.engine import write_tx
from tests.harness.ledger import give_money

ALICE = 1001


async def test_long_admin_notes_keep_the_balance_under_the_limit(app, chat) -> None:
    await give_money(app.sessionmaker, ALICE, "1")
    async with app.sessionmaker() as session, write_tx(session):
        for n in range(10):
            note = f"bonus {n} <&> " + "x" * 3000  # /topup takes a note as long as a message
            await billing.credit(session, ALICE, Decimal(1), key=f"t{n}", admin_id=1, note=note)
    reply = await chat(ALICE).send("/balance")
    assert len(reply.text) < 4096
    assert "Balance: 11.00 USD" in reply.text and "bonus 9 &lt;&amp;&gt; xxx" in reply.text
