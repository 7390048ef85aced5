"""Provider error messages → stable error codes (smm-api-v2.md §7).

Providers answer refusals in free text or as untranslated i18n keys ("neworder.error.link"),
so the only reliable thing is a case-insensitive pattern match. The rules are evaluated in
the reference's precedence order, specific before generic: "Order not found / Not eligible
for cancellation" must land on cancel_not_allowed, not order_not_found.
"""

from __future__ import annotations

import re

INVALID_KEY = "invalid_key"
ACCOUNT_INACTIVE = "account_inactive"
DUPLICATE_ACTIVE_ORDER = "duplicate_active_order"
INSUFFICIENT_FUNDS = "insufficient_funds"
INVALID_SERVICE = "invalid_service"
QUANTITY_BELOW_MIN = "quantity_below_min"
QUANTITY_ABOVE_MAX = "quantity_above_max"
INVALID_LINK = "invalid_link"
DRIPFEED_UNSUPPORTED = "dripfeed_unsupported"
REFILL_NOT_FOUND = "refill_not_found"
REFILL_NOT_ALLOWED = "refill_not_allowed"
CANCEL_NOT_ALLOWED = "cancel_not_allowed"
ORDER_NOT_FOUND = "order_not_found"
INCORRECT_REQUEST = "incorrect_request"
UNKNOWN_API_ERROR = "unknown_api_error"

# (code, pattern) in precedence order; first match wins.
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (code, re.compile(pattern, re.IGNORECASE))
    for code, pattern in (
        (
            INVALID_KEY,
            r"(invalid|incorrect|wrong|bad)[\s_]+(api[\s_]+)?key"
            r"|api[\s_]*key[\s_]+(is[\s_]+)?(invalid|incorrect|wrong|not[\s_]+valid)"
            r"|api_is_disable_for_this_user|user not found|unauthenticated|unauthori[sz]ed",
        ),
        (
            # A bare "suspended" could be a suspended *service*; only the account (or the
            # user behind the key) being blocked stops the whole provider.
            ACCOUNT_INACTIVE,
            r"account.{0,40}(inactive|suspended|banned|disabled|blocked)"
            r"|account_banned|user.{0,20}(suspended|banned)|^\s*suspended",
        ),
        (
            DUPLICATE_ACTIVE_ORDER,
            r"active order with (this|the same|same) link|link_duplicate"
            r"|already an? active order|same link",
        ),
        (
            INSUFFICIENT_FUNDS,
            r"not enough (funds|balance|money)|balance is (insufficient|not enough)"
            r"|not_enough_funds|insufficient[\s_]+(balance|funds)|low balance",
        ),
        (
            INVALID_SERVICE,
            r"incorrect[\s_]+service|invalid[\s_]+service|service[\s_]+not[\s_]+found"
            r"|service (id )?does not exists?|disabled service|service is (disabled|inactive)",
        ),
        (
            QUANTITY_BELOW_MIN,
            r"less than minim|above the minimum|min_quantity|quantity_min"
            r"|greater than or equal to (the )?minimum|below (the )?minimum",
        ),
        (
            QUANTITY_ABOVE_MAX,
            r"more than maxim|less than maximum|maximum number exceed|max_quantity|quantity_max"
            r"|less than or equal to (the )?maximum|greater than (the )?maximum"
            r"|exceeds? (the )?maximum|above (the )?maximum",
        ),
        (
            INVALID_LINK,
            r"(bad|incorrect|invalid)[\s_]+(link|url)|^\s*neworder\.error\.link\s*$"
            r"|url is not valid|link is (not valid|invalid)|profile is (hidden|private)",
        ),
        (
            DRIPFEED_UNSUPPORTED,
            r"drip[\s_-]?feed|interval|runs is required|invalid runs",
        ),
        (
            REFILL_NOT_FOUND,
            r"refill (request )?not found|(incorrect|invalid)[\s_]+refill[\s_]+id",
        ),
        (
            REFILL_NOT_ALLOWED,
            r"refill is (disabled|not available)|not eligible for refill|refill not allowed"
            r"|not completed|less than 24 hours|refill pending|refill in ?progress"
            r"|refill task|error\.refill_",
        ),
        (
            CANCEL_NOT_ALLOWED,
            r"already completed|not eligible for cancel"
            r"|cancel.{0,60}\b(not|disabled|unavailable)\b|\b(not|cannot|can't)\b.{0,40}cancel",
        ),
        (
            ORDER_NOT_FOUND,
            r"(incorrect|invalid)[\s_]+order[\s_]+id|order (id )?not found"
            r"|order does not exist",
        ),
        (
            INCORRECT_REQUEST,
            r"incorrect request|request not found|this action is invalid|missing data"
            r"|invalid (request|action)|unknown action|required fields",
        ),
    )
)

# What a customer or an admin can read without knowing the provider's jargon.
REASONS: dict[str, str] = {
    INVALID_KEY: "The provider refused our API key.",
    ACCOUNT_INACTIVE: "Our account at the provider is not active.",
    DUPLICATE_ACTIVE_ORDER: "There is already an active order for this link; "
    "please wait until it is finished.",
    INSUFFICIENT_FUNDS: "The provider account does not have enough funds.",
    INVALID_SERVICE: "The provider does not offer this service any more.",
    QUANTITY_BELOW_MIN: "The quantity is below the minimum for this service.",
    QUANTITY_ABOVE_MAX: "The quantity is above the maximum for this service.",
    INVALID_LINK: "The provider rejected the link.",
    DRIPFEED_UNSUPPORTED: "This service does not accept these drip-feed settings.",
    REFILL_NOT_FOUND: "The provider does not know this refill.",
    REFILL_NOT_ALLOWED: "A refill is not possible for this order right now.",
    CANCEL_NOT_ALLOWED: "This order can no longer be canceled.",
    ORDER_NOT_FOUND: "The provider does not know this order.",
    INCORRECT_REQUEST: "The provider did not understand the request.",
    UNKNOWN_API_ERROR: "The provider refused the request.",
}

# A wrong key or a blocked account fails every call: keep hammering and some panels ban the IP.
STOP_PROVIDER_CODES = frozenset({INVALID_KEY, ACCOUNT_INACTIVE})

_NUMBER = re.compile(r"\d+")


def classify_error(message: str) -> str:
    """The error code of a provider message; unknown_api_error when nothing matches."""
    for code, pattern in _RULES:
        if pattern.search(message):
            return code
    return UNKNOWN_API_ERROR


def quantity_limit(code: str, message: str) -> int | None:
    """The min/max a provider quoted in a quantity error ("Quantity less than minimal 200")."""
    if code not in (QUANTITY_BELOW_MIN, QUANTITY_ABOVE_MAX):
        return None
    numbers = _NUMBER.findall(message)
    return int(numbers[-1]) if numbers else None


def refill_retry_hint(code: str, message: str) -> str | None:
    """When a refused refill may be asked again: "24h", after the running refill, or unknown."""
    if code != REFILL_NOT_ALLOWED:
        return None
    text = message.lower()
    if "24 hour" in text:
        return "24h"
    if re.search(r"refill task|refill pending|refill in ?progress", text):
        return "when previous refill finishes"
    return None
