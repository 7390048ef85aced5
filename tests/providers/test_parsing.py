"""Pure helpers: §7 error-code precedence, tolerant parsers (never raising), vocabularies."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from providers import REASONS, classify_error, normalize_order_status, normalize_service_type
from providers.error_codes import quantity_limit
from providers.parsing import error_message, to_bool, to_decimal, to_int, to_remains
from providers.vocab import ORDER_STATUSES

CODES = [
    ("Invalid API key", "invalid_key"),
    ("api_is_disable_for_this_user", "invalid_key"),
    ("User not found", "invalid_key"),
    ("Your account is inactive", "account_inactive"),
    ("Your account has been suspended.", "account_inactive"),
    ("error.account_banned", "account_inactive"),
    ("You have active order with this link. Please wait until order being completed.",
     "duplicate_active_order"),
    ("neworder.error.link_duplicate", "duplicate_active_order"),
    ("Not enough funds on balance", "insufficient_funds"),
    ("neworder.error.insufficient_balance", "insufficient_funds"),
    ("Incorrect service ID", "invalid_service"),
    ("Service does not exists", "invalid_service"),
    ("Disabled service", "invalid_service"),
    ("Quantity less than minimal 100", "quantity_below_min"),
    ("The quantity must be greater than or equal to minimum 10", "quantity_below_min"),
    ("Quantity more than maximum 5000", "quantity_above_max"),
    ("Quantity less than maximum 5000", "quantity_above_max"),  # S9's typo
    ("Maximum number exceeded", "quantity_above_max"),
    ("Bad link", "invalid_link"),
    ("URL is not valid", "invalid_link"),
    ("Profile is hidden", "invalid_link"),
    ("This services does not support Dripfeed feature!", "dripfeed_unsupported"),
    ("Invalid Interval in minutes", "dripfeed_unsupported"),
    ("Runs is required", "dripfeed_unsupported"),
    ("Refill not found", "refill_not_found"),
    ("Refill Request Not found", "refill_not_found"),
    ("incorrect_refill_id", "refill_not_found"),
    ("Refill is disabled for this service", "refill_not_allowed"),
    ("The refill task is not completed for this order", "refill_not_allowed"),
    ("Refill not allowed , try again later", "refill_not_allowed"),
    ("Refill inprogress", "refill_not_allowed"),
    ("error.refill_not_available", "refill_not_allowed"),
    ("Order not found / Not eligible for cancellation", "cancel_not_allowed"),
    ("Order already completed", "cancel_not_allowed"),
    ("Cancel is disabled for this service", "cancel_not_allowed"),
    ("Incorrect order ID", "order_not_found"),
    ("error.incorrect_order_id", "order_not_found"),
    ("Order not found.", "order_not_found"),
    ("Incorrect request", "incorrect_request"),
    ("The Request Not Found", "incorrect_request"),
    ("This action is invalid", "incorrect_request"),
    ("Missing data", "incorrect_request"),
    ("Something odd happened", "unknown_api_error"),
    ("Service suspended for maintenance", "unknown_api_error"),  # not the *account*
]  # fmt: skip


@pytest.mark.parametrize(("message", "code"), CODES)
def test_error_codes_in_precedence_order(message: str, code: str) -> None:
    assert classify_error(message) == code
    assert classify_error(message.upper()) == code


def test_every_code_has_a_plain_reason() -> None:
    assert {code for _, code in CODES} <= set(REASONS)
    assert all(reason.endswith(".") and "_" not in reason for reason in REASONS.values())


def test_quantity_limit() -> None:
    assert quantity_limit("quantity_below_min", "Quantity less than minimal 200") == 200
    assert quantity_limit("quantity_above_max", "neworder.error.max_quantity") is None
    assert quantity_limit("invalid_link", "Bad link 2") is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"error": "x"}, "x"),
        ({"error": "x", "status": 113}, "x"),
        ({"status": "error", "message": "m"}, "m"),
        ({"status": "ERROR", "msg": "m"}, "m"),
        ({"status": "error"}, None),  # a bare status word is a status (refill "Error")
        ({"status": "success", "order": 1}, None),
        ({"error": ""}, None),
        ({"error": {"message": "nested"}}, "nested"),
        ({"Error": "title"}, "title"),
        ([{"error": "x"}], None),
    ],
)  # fmt: skip
def test_error_envelopes(body: Any, message: str | None) -> None:
    assert error_message(body) == message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0.90", "0.90"), (0.9, "0.9"), (12, "12"), ("1e-5", "0.00001"), (" 3.50 ", "3.50"),
     ("", None), (None, None), ("Unknown", None), (True, None), ("NaN", None), ([], None)],
)  # fmt: skip
def test_to_decimal(raw: Any, expected: str | None) -> None:
    value = to_decimal(raw)
    assert (None if value is None else value) == (None if expected is None else Decimal(expected))


def test_counts_and_bools() -> None:
    assert to_int("157") == 157 and to_int(157.0) == 157 and to_int("") is None
    assert to_remains("+12") == -12 and to_remains("-12") == -12 and to_remains(12) == 12
    for truthy in (True, 1, "1", "true", "Yes", "enabled", "available"):
        assert to_bool(truthy) is True
    for falsy in (False, 0, "0", "false", "no", "disabled"):
        assert to_bool(falsy) is False
    for unknown in (None, "", "maybe", [], {}):
        assert to_bool(unknown) is None


def test_service_types() -> None:
    assert normalize_service_type("Custom Comments") == "custom_comments"
    assert normalize_service_type("custom_comments") == "custom_comments"
    assert normalize_service_type("Mentions with Hashtags") == "mentions_with_hashtags"
    assert normalize_service_type("Subscription") == "subscriptions"
    assert normalize_service_type(10) == "package"
    assert normalize_service_type(None) == "default"
    assert normalize_service_type("Story Views PRO") == "story views pro"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(JSON)
def test_parsers_never_raise(value: Any) -> None:
    result = to_decimal(value)
    assert result is None or result.is_finite()
    to_int(value)
    to_remains(value)
    to_bool(value)
    error_message(value)
    assert normalize_order_status(value) in ORDER_STATUSES
