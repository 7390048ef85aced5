"""Every alert kind has one payload builder in core.alerts and words in every language."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.i18n import create_i18n
from core import alerts, notify
from core.alerts import Alert, AlertKind
from db.models import Provider
from handlers.notifications import ALERTS, render

PROVIDER = Provider(id=4, name="Main", currency="USD", low_balance_threshold=Decimal("10"))

BUILT: list[Alert] = [
    alerts.provider_no_funds(PROVIDER),
    alerts.provider_key(PROVIDER, "Invalid API key"),
    alerts.provider_failing(PROVIDER, 3, "<html> 502"),
    alerts.provider_low_balance(PROVIDER, Decimal("3"), None),
    alerts.provider_fx_missing(Provider(id=5, name="Ru", currency="RUB"), "USD"),
    alerts.provider_price_above("Main", 3, "Likes", Decimal("1"), Decimal("1.2"), "1000"),
    alerts.service_unavailable("Main", 3, "Likes", "77"),
    alerts.orders_review(5, "timeout"),
    alerts.orders_manual(6, "Custom"),
    alerts.stale_orders(40, [1, 2, 3], 24),
    alerts.payment_unmatched("stars", "stxX", 7, Decimal("300"), "XTR", "unknown invoice"),
    alerts.payment_question(7, "@ann", "paid twice?", "#1 stars 10 USD paid stxX", "7:3"),
    alerts.refund_above_status(8, "completed", Decimal("0.5"), Decimal("0")),
]


def test_each_kind_has_one_builder_and_one_renderer() -> None:
    assert sorted(a.kind for a in BUILT) == sorted(AlertKind)
    assert set(ALERTS) == set(AlertKind)


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("alert", BUILT, ids=lambda a: a.kind.value)
def test_built_payloads_render_without_the_fallback(alert: Alert, language: str) -> None:
    i18n = create_i18n("en")
    payload = {"alert": alert.kind.value, **alert.payload}
    text = render(i18n, language, notify.ADMIN_ALERT, payload, currency="USD")
    assert alert.kind.value not in text  # the fallback names the kind; a renderer does not


def test_low_balance_payload_falls_back_to_the_provider_currency() -> None:
    alert = alerts.provider_low_balance(PROVIDER, Decimal("3"), None)
    assert alert.payload == {
        "provider": "Main",
        "balance": "3.00",
        "currency": "USD",
        "threshold": "10.00",
    }
    assert alert.key == "provider:4:low_balance"
