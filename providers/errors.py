"""Typed failures of a provider call.

Every failure is a ``ProviderError``; callers branch on the subclass, never on text:
``ApiError`` is a definite refusal by the provider, the other three mean "we did not get a
usable answer" and are retryable for read-only actions (for ``add`` they become an
``AddOutcome`` instead, see outcomes.py).
"""

from __future__ import annotations

from providers import error_codes


class ProviderError(Exception):
    """Base of every provider failure. ``action`` is the API action that failed."""

    retryable: bool = False

    def __init__(self, message: str, *, action: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.action = action

    @property
    def reason(self) -> str:
        """One plain-English sentence for a person (admin or customer)."""
        return "The provider could not be reached properly; we will try again."


class ApiError(ProviderError):
    """The provider refused the request (``{"error": ...}`` and its variants, §2/§7).

    ``message`` is the provider's raw text (kept for the admin's error log); ``code`` is the
    stable classification; ``reason`` is what a customer may be told.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        action: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message, action=action)
        self.code = code
        self.http_status = http_status
        self.retryable = False  # every §7 code is final for this exact request
        self.stop_provider = code in error_codes.STOP_PROVIDER_CODES
        self.limit = error_codes.quantity_limit(code, message)
        self.retry_after_hint = error_codes.refill_retry_hint(code, message)

    @classmethod
    def from_message(
        cls, message: str, *, action: str | None = None, http_status: int | None = None
    ) -> ApiError:
        """Classify a raw provider message (§7 precedence) into an ApiError."""
        return cls(
            error_codes.classify_error(message), message, action=action, http_status=http_status
        )

    @property
    def reason(self) -> str:
        return error_codes.REASONS.get(self.code, error_codes.REASONS["unknown_api_error"])

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"ApiError(code={self.code!r}, message={self.message!r})"


class TransportError(ProviderError):
    """The HTTP exchange failed (connect, timeout, reset, 5xx without a JSON error).

    ``request_sent`` is False only when the request provably never left (connect refused,
    DNS, connect/pool timeout): then even ``add`` is safe to resend. ``timed_out``: the
    answer did not come (complete) within the deadline.
    """

    retryable = True
    timed_out = False

    def __init__(
        self,
        message: str,
        *,
        request_sent: bool,
        status_code: int | None = None,
        action: str | None = None,
    ) -> None:
        super().__init__(message, action=action)
        self.request_sent = request_sent
        self.status_code = status_code

    def __repr__(self) -> str:
        return (
            f"TransportError({self.message!r}, request_sent={self.request_sent}, "
            f"status_code={self.status_code})"
        )


class NonJSONResponse(ProviderError):
    """The body was not JSON: a Cloudflare challenge, a maintenance page, empty, truncated."""

    retryable = True

    def __init__(
        self,
        status_code: int,
        snippet: str,
        *,
        blocked_by_waf: bool = False,
        action: str | None = None,
    ) -> None:
        super().__init__(f"HTTP {status_code}: body is not JSON: {snippet[:120]!r}", action=action)
        self.status_code = status_code
        self.snippet = snippet
        self.blocked_by_waf = blocked_by_waf

    def __repr__(self) -> str:
        return f"NonJSONResponse(status_code={self.status_code}, snippet={self.snippet[:60]!r})"


class RateLimited(ProviderError):
    """HTTP 429. ``retry_after`` is seconds to wait (from Retry-After or X-RateLimit-Reset)."""

    retryable = True

    def __init__(
        self,
        retry_after: float | None,
        *,
        reset_epoch: int | None = None,
        action: str | None = None,
    ) -> None:
        super().__init__(f"rate limited; retry after {retry_after} s", action=action)
        self.retry_after = retry_after
        self.reset_epoch = reset_epoch

    @property
    def reason(self) -> str:
        return "The provider asked us to slow down; we will try again shortly."

    def __repr__(self) -> str:
        return f"RateLimited(retry_after={self.retry_after}, reset_epoch={self.reset_epoch})"


class UnexpectedResponse(ProviderError):
    """Valid JSON that matches no known shape for the action (no order id, no error...)."""

    def __init__(self, message: str, *, snippet: str = "", action: str | None = None) -> None:
        super().__init__(message, action=action)
        self.snippet = snippet

    def __repr__(self) -> str:
        return f"UnexpectedResponse({self.message!r})"
