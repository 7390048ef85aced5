"""Top-up buttons pressed after the panel changed: a method no longer offered (or a preset
beyond today's limits) is refused with one clear alert, whichever button it was."""

from __future__ import annotations

import pytest

from handlers.payments.keyboards import TopupCallback
from tests.harness.order_seed import fsm

ALICE = 1001
CLOSED = "Top-ups with this method are not available right now."


@pytest.mark.parametrize("action", ["method", "amount", "other"])
async def test_a_button_of_a_method_no_longer_offered_is_refused(app, chat, action) -> None:
    assert app.settings.payment_methods == ["stars"]  # Crypto Pay is not configured
    alice = chat(ALICE)
    reply = await alice.press(TopupCallback(action=action, method="cryptopay", amount="10").pack())
    assert [a.text for a in reply.alerts] == [CLOSED] and reply.alerts[0].show_alert
    assert not reply.texts
    assert await fsm(app.dp, app.bot, ALICE).get_state() is None


async def test_a_preset_beyond_the_limits_is_refused_and_an_offered_method_works(app, chat) -> None:
    alice = chat(ALICE)
    high = app.settings.topup_max + 1
    reply = await alice.press(
        TopupCallback(action="amount", method="stars", amount=str(high)).pack()
    )
    assert [a.text for a in reply.alerts] == [CLOSED] and not reply.texts
    reply = await alice.press(TopupCallback(action="method", method="stars").pack())
    assert "Choose an amount or enter your own" in reply.text
    reply = await alice.press(TopupCallback(action="other", method="stars").pack())
    assert await fsm(app.dp, app.bot, ALICE).get_state() == "TopupFlow:amount"
