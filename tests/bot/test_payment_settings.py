"""Top-up settings: defaults, parsing, and the combinations refused at start."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from bot.config import Settings, describe_error


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, bot_token="1:abc", **values)  # type: ignore[arg-type]


def test_defaults_offer_stars_only() -> None:
    s = settings()
    assert s.payment_methods == ["stars"]
    assert (s.topup_min, s.topup_max) == (Decimal(1), Decimal(1000))
    assert s.topup_presets == (Decimal(5), Decimal(10), Decimal(25), Decimal(50))
    assert s.stars_per_unit == 75 and s.payment_invoice_minutes == 60
    assert s.crypto_pay_token is None and s.crypto_pay_api_url == "https://pay.crypt.bot"


def test_crypto_pay_when_its_token_is_set() -> None:
    s = settings(
        crypto_pay_token=" 1234:AAtoken ",
        crypto_pay_assets="usdt, ton",
        crypto_pay_api_url="https://testnet-pay.crypt.bot/api/",
        topup_presets="3; 7.5",
        stars_enabled=False,
    )
    assert s.payment_methods == ["cryptopay"]
    assert s.crypto_pay_assets == ("USDT", "TON")
    assert s.crypto_pay_api_url == "https://testnet-pay.crypt.bot"
    assert s.topup_presets == (Decimal(3), Decimal("7.5"))
    assert "1234:AAtoken" not in repr(s)
    assert settings(crypto_pay_token="").payment_methods == ["stars"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"topup_min": "10", "topup_max": "5", "topup_presets": "7"}, "TOPUP_MIN"),
        ({"topup_presets": "5,2000"}, "TOPUP_PRESETS"),
        ({"topup_presets": "5,abc"}, "not an amount"),
        ({"topup_presets": "5.555"}, "two decimal places"),
        ({"crypto_pay_token": "x", "currency": "XYZ"}, "cannot price invoices in XYZ"),
        ({"crypto_pay_api_url": "pay.crypt.bot"}, "not an http(s) URL"),
        ({"stars_per_unit": "0"}, "STARS_PER_UNIT"),
    ],
)
def test_bad_combinations_are_one_clear_line(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as error:
        settings(**values)
    assert message in describe_error(error.value)
