"""The one classification of an ``add`` attempt (smm-api-v2.md §8.1, SPEC §5).

``add`` is not idempotent: an order may exist at the provider even though we never saw its
id. So the question is never just "did it work" but "may we send it again":

* accepted  – the provider returned an order id;
* rejected  – a definite API refusal (bad link, min/max, unknown service...): refund;
* no_funds  – the provider account is short of money: keep queued, retry later;
* not_sent  – the request provably never left (connect refused/timeout): retry later;
* ambiguous – it may have been created (timeout after sending, reset, redirect, 5xx, 429,
  unreadable body, JSON with neither a usable order id nor an error): never resend
  automatically, reconcile.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from providers import error_codes
from providers.errors import ApiError, ProviderError, TransportError

AddOutcomeKind = Literal["accepted", "rejected", "no_funds", "not_sent", "ambiguous"]

_REASONS: dict[str, str] = {
    "accepted": "The provider accepted the order.",
    "no_funds": error_codes.REASONS[error_codes.INSUFFICIENT_FUNDS],
    "not_sent": "The provider could not be reached; the order was not sent.",
    "ambiguous": "The provider did not answer clearly; the order may or may not exist "
    "and needs a manual check.",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class AddOutcome:
    """Result of ``add``. ``error`` is the ApiError of a refusal, or the transport failure."""

    kind: AddOutcomeKind
    provider_order_id: str | None = None
    error: ProviderError | None = None
    reason: str | None = None
    charge: Decimal | None = None
    currency: str | None = None

    @property
    def accepted(self) -> bool:
        return self.kind == "accepted"

    @classmethod
    def accepted_order(
        cls, order_id: str, *, charge: Decimal | None = None, currency: str | None = None
    ) -> AddOutcome:
        return cls(
            kind="accepted",
            provider_order_id=order_id,
            reason=_REASONS["accepted"],
            charge=charge,
            currency=currency,
        )

    @classmethod
    def from_error(cls, error: ProviderError) -> AddOutcome:
        """Map any failure of an add request onto its outcome kind."""
        kind = classify_add_failure(error)
        reason = error.reason if kind == "rejected" else _REASONS[kind]
        return cls(kind=kind, error=error, reason=reason)


def classify_add_failure(error: ProviderError) -> AddOutcomeKind:
    """rejected / no_funds / not_sent / ambiguous for a failed add (see module doc)."""
    if isinstance(error, ApiError):
        # A crashing server (5xx) may have created the order before it failed, whatever its
        # words say (SPEC §5): never a definite refusal, never a reason to send it again.
        if error.http_status is not None and error.http_status >= 500:
            return "ambiguous"
        if error.code == error_codes.INSUFFICIENT_FUNDS:
            return "no_funds"
        return "rejected"
    if isinstance(error, TransportError) and not error.request_sent:
        return "not_sent"
    # Sent (or maybe sent) and no definite answer: 5xx, reset, read timeout, 429, non-JSON,
    # JSON without order or error. The order may exist; resending could buy it twice.
    return "ambiguous"
