"""What a customer types as a quantity or a mass-order line never crashes the parser."""

from __future__ import annotations

from core.pricing import parse_quantity


def test_parse_quantity_refuses_digit_like_symbols() -> None:
    assert parse_quantity("²") is None  # str.isdigit() is True, int() raises
    assert parse_quantity("1⁰⁰⁰") is None
    assert parse_quantity("1 000") == 1000
    assert parse_quantity("١٢٣") == 123  # real decimal digits of other scripts still count
