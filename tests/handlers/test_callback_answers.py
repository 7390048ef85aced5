"""Every button press gets exactly one answer: CallbackAnswerMiddleware answers it before the
handler runs, and a handler that has something to say (handlers.ui.answers_itself) answers it
itself with an alert instead."""

from __future__ import annotations

from aiogram.methods import AnswerCallbackQuery, SendMessage

from handlers.menu import MenuCallback
from handlers.order.callbacks import FlowCallback


async def test_a_plain_press_is_answered_once_before_the_screen(app, chat) -> None:
    alice = chat(1001)
    reply = await alice.press(MenuCallback(action="help").pack())
    answers = [c for c in reply.calls if isinstance(c, AnswerCallbackQuery)]
    assert len(answers) == 1 and answers[0].text is None and not answers[0].show_alert
    assert isinstance(reply.calls[0], AnswerCallbackQuery)  # the spinner stops first
    assert isinstance(reply.calls[-1], SendMessage) and "/neworder" in reply.text


async def test_a_stale_button_gets_one_alert_and_no_second_answer(app, chat) -> None:
    alice = chat(1001)
    reply = await alice.press(FlowCallback(action="confirm", nonce="gone").pack())
    [answer] = [c for c in reply.calls if isinstance(c, AnswerCallbackQuery)]
    assert answer.show_alert and "no longer active" in (answer.text or "")


async def test_an_unknown_button_gets_one_alert(app, chat) -> None:
    alice = chat(1001)
    reply = await alice.press("nobody:handles:this")
    [answer] = [c for c in reply.calls if isinstance(c, AnswerCallbackQuery)]
    assert answer.show_alert and "no longer active" in (answer.text or "")
