from decimal import Decimal

import pytest

from core.money import InvalidAmount, format_money, money, parse_amount, round_down


def test_money_has_eight_places_and_refuses_floats() -> None:
    assert money("0.000000015") == Decimal("0.00000002")
    with pytest.raises(TypeError):
        money(0.1)  # type: ignore[arg-type]


def test_parse_amount() -> None:
    assert parse_amount(" 12,5 ") == Decimal("12.5")
    assert parse_amount("-3") == Decimal("-3")
    for bad in ("", "abc", "1e999999", "NaN", "0.000000001"):
        with pytest.raises(InvalidAmount):
            parse_amount(bad)


def test_round_down_and_format() -> None:
    assert round_down(Decimal("0.123456789")) == Decimal("0.12345678")
    assert format_money(Decimal("12.5")) == "12.50"
    assert format_money(Decimal("12.5"), "USD") == "12.50 USD"
    assert format_money(Decimal("0.01255")) == "0.0126"
    assert format_money(Decimal("0.00002")) == "0.00002"
    assert format_money(Decimal("-3")) == "-3.00"
