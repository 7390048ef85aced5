"""Failover decisions and the choice of mapping: pure rules every submission lane shares."""

from datetime import timedelta

import pytest

from core.failover import Candidate, Decision, choose, decide
from db.types import utcnow
from providers import AddOutcome, ApiError, NonJSONResponse, TransportError


def refused(message: str) -> AddOutcome:
    return AddOutcome.from_error(ApiError.from_message(message, action="add"))


@pytest.mark.parametrize(
    "message",
    [
        "Incorrect service ID",
        "Service is disabled",
        "Not enough funds on balance",
        "Quantity less than minimal 500",
        "Quantity more than maximum 100",
        "Invalid API key",
        "This services does not support Dripfeed feature!",
    ],
)
def test_refusals_about_the_provider_move_on(message: str) -> None:
    assert decide(refused(message)) is Decision.NEXT


@pytest.mark.parametrize(
    "message", ["Bad link", "neworder.error.link", "You have active order with this link"]
)
def test_refusals_about_the_customers_input_fail(message: str) -> None:
    assert decide(refused(message)) is Decision.FAIL


def test_ambiguous_never_moves_on_and_unsent_does() -> None:
    sent = AddOutcome.from_error(TransportError("read timeout", request_sent=True))
    unreadable = AddOutcome.from_error(NonJSONResponse(200, "<html>"))
    unsent = AddOutcome.from_error(TransportError("refused", request_sent=False))
    assert decide(sent) is Decision.REVIEW
    assert decide(unreadable) is Decision.REVIEW
    assert decide(unsent) is Decision.NEXT
    assert decide(AddOutcome.accepted_order("7")) is Decision.ACCEPTED


def test_choose_takes_the_first_ready_mapping_not_tried() -> None:
    now = utcnow()
    a = Candidate(1, 1, "10", True, now + timedelta(minutes=5))  # backing off
    b = Candidate(2, 2, "20", False, None)  # provider off
    c = Candidate(3, 3, "30", True, None, offered=False)  # dropped by the provider
    d = Candidate(4, 4, "40", True, now - timedelta(seconds=1))  # backoff over
    e = Candidate(5, 5, "50", True, None)
    assert choose([e, d, c, b, a], now) == d
    assert choose([e, d, c, b, a], now, tried=[d.key]) == e
    assert choose([a, b, c], now) is None
