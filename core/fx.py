"""Provider currencies: a provider's rates and costs in the panel's currency.

A provider's currency comes from its balance answer. When it is not the panel's, the owner
sets a conversion rate per provider (/providerset NAME fx RATE: panel currency per one unit
of the provider's); until then its prices cannot be compared with ours and its costs stay
out of the profit. A provider whose currency is unknown (it never said) is taken as ours.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from core.money import QUANTUM
from core.pricing import cost_on_basis
from db.models import Provider, Service

MIN_RATE = Decimal("0.00000001")
MAX_RATE = Decimal("1000000")


def same_currency(provider_currency: str | None, panel_currency: str) -> bool:
    """True when no conversion is needed (same code, or the provider never named one)."""
    return not provider_currency or provider_currency.strip().upper() == panel_currency.upper()


def rate_of(provider: Provider, panel_currency: str) -> Decimal | None:
    """Panel units per provider unit: 1 in the same currency, the owner's rate otherwise,
    None while that rate is missing."""
    if same_currency(provider.currency, panel_currency):
        return Decimal(1)
    return provider.fx_rate


def rate_missing(provider: Provider, panel_currency: str) -> bool:
    return rate_of(provider, panel_currency) is None


def convert(amount: Decimal, rate: Decimal) -> Decimal:
    """amount × rate, half up to the money precision."""
    return (amount * rate).quantize(QUANTUM, rounding=ROUND_HALF_UP)


def to_panel(amount: Decimal, provider: Provider, panel_currency: str) -> Decimal | None:
    """A provider amount (rate, cost) in the panel's currency; None if it cannot be known."""
    rate = rate_of(provider, panel_currency)
    return None if rate is None else convert(amount, rate)


def unit_cost(rate: Decimal, their_basis: str, service: Service, fx_rate: Decimal) -> Decimal:
    """A provider's rate in the panel's currency and in the unit the service's price is in
    (per 1000 or one package: core.pricing.cost_on_basis): what its price is compared with."""
    return cost_on_basis(convert(rate, fx_rate), their_basis, service.rate_basis, service.min)


def parse_rate(text: str) -> Decimal | None:
    """An exchange rate as the owner types it ("0.0108", "92,5"); None unless in range."""
    cleaned = text.strip().replace(",", ".")
    if not cleaned or len(cleaned) > 24:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if not value.is_finite() or not MIN_RATE <= value <= MAX_RATE:
        return None
    return value.quantize(QUANTUM, rounding=ROUND_HALF_UP)
