"""Recording a failed provider call: one row in the failure log (/errors), and the provider's
last error for the admin screens. Every writer goes through here, so the text is cut once."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Provider, ProviderFailure
from db.types import utcnow

MAX_ERROR_TEXT = 2000  # characters of an error kept on a row (the column is TEXT; this is a cap)


def error_text(error: Exception | str) -> str:
    """The text kept for an error: its message (or its type's name), cut to MAX_ERROR_TEXT."""
    text = error if isinstance(error, str) else str(error) or type(error).__name__
    return text[:MAX_ERROR_TEXT]


def record_provider_failure(
    session: AsyncSession,
    provider: Provider,
    action: str,
    error: Exception | str,
    *,
    order_id: int | None = None,
    code: str | None = None,
    provider_level: bool = True,
) -> str:
    """Log one failed call to `provider` in the caller's transaction; returns the kept text.

    `code` defaults to the error's code (ApiError) or its type's name. `provider_level=False`
    for a refusal about one order (a refill or cancel the provider declined): logged, but the
    provider's own last error, which says whether the provider works, stays as it is.
    """
    message = error_text(error)
    if code is None and not isinstance(error, str):
        code = getattr(error, "code", None) or type(error).__name__
    session.add(
        ProviderFailure(
            provider_id=provider.id, action=action, order_id=order_id, code=code, message=message
        )
    )
    if provider_level:
        provider.last_error, provider.last_error_at = message, utcnow()
    return message
