"""Provider currencies and the drip-feed / subscription fields, bounded at the edge."""

from datetime import date
from decimal import Decimal

import pytest

from core import fx
from core.order_fields import (
    FieldError,
    Subscription,
    parse_delay,
    parse_expiry,
    parse_interval,
    parse_per_post,
    parse_runs,
    parse_username,
    subscription_of,
)
from core.pricing import charge_for, subscription_charge
from db.models import Provider


def provider(currency: str | None, rate: str | None = None) -> Provider:
    return Provider(name="p", api_url="x", api_key="k", currency=currency,
                    fx_rate=None if rate is None else Decimal(rate))  # fmt: skip


def test_conversion_needs_a_rate_only_for_another_currency() -> None:
    assert fx.to_panel(Decimal("2"), provider("usd"), "USD") == Decimal("2")
    assert fx.to_panel(Decimal("2"), provider(None), "USD") == Decimal("2")
    assert fx.to_panel(Decimal("90"), provider("RUB"), "USD") is None
    assert fx.rate_missing(provider("RUB"), "USD")
    assert fx.to_panel(Decimal("90"), provider("RUB", "0.011"), "USD") == Decimal("0.99")


@pytest.mark.parametrize("text", ["0", "-1", "abc", "1e9", "NaN", "Infinity", "", "1" * 30])
def test_rates_out_of_range_are_refused(text: str) -> None:
    assert fx.parse_rate(text) is None


def test_rates_are_read_as_typed() -> None:
    assert fx.parse_rate("0,0108") == Decimal("0.0108")
    assert fx.parse_rate("92.5") == Decimal("92.5")


def test_dripfeed_and_subscription_fields() -> None:
    assert parse_runs("5") == 5 and parse_interval("30") == 30
    for bad, parse in (("1", parse_runs), ("101", parse_runs), ("0", parse_interval)):
        with pytest.raises(FieldError):
            parse(bad)
    assert parse_username("@nasa") == "nasa"
    assert parse_username("https://instagram.com/nasa/") == "nasa"
    with pytest.raises(FieldError):
        parse_username("<b>x</b>")
    assert parse_delay("60") == 60
    with pytest.raises(FieldError) as refused:
        parse_delay("7")
    assert "600" in refused.value.details["delays"]
    assert parse_per_post("100", 50, 5000) == 100
    with pytest.raises(FieldError):
        parse_per_post("10", 50, 5000)
    today = date(2026, 11, 30)
    assert parse_expiry("-", today) is None
    assert parse_expiry("20/12/2026", today) == date(2026, 12, 20)
    for bad in ("12/20/2026", "30/11/2026", "01/01/2030", "soon"):
        with pytest.raises(FieldError):
            parse_expiry(bad, today)


def test_subscription_charge_is_posts_at_the_per_post_maximum() -> None:
    assert subscription_charge(Decimal("0.40"), "per_1000", 200, 5) == Decimal("0.4")
    assert subscription_charge(Decimal("0.40"), "flat", 200, 5) == Decimal("2.0")
    assert charge_for(Decimal("1.00"), "per_1000", 100 * 5) == Decimal("0.5")
    sub = Subscription("nasa", 50, 200, 5, 60, date(2026, 12, 20))
    assert subscription_of(sub.as_extra()) == sub
