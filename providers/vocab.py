"""Normalised vocabularies: order statuses (§4), refill statuses, service types (§5).

Providers spell the same state many ways ("Cancelled", "inprogress", "In Progress", 2);
everything here folds case, strips, turns ``_``/``-`` into spaces and collapses spaces
before looking a word up. Anything unknown is kept raw by the caller and never crashes.
"""

from __future__ import annotations

import logging
import re
from typing import Any

log = logging.getLogger(__name__)

ORDER_STATUSES = (
    "pending",
    "processing",
    "in_progress",
    "active",
    "paused",
    "completed",
    "partial",
    "canceled",
    "refunded",
    "failed",
    "expired",
    "unknown",
)
# Unknown is deliberately not terminal: keep polling an order whose status we cannot read.
TERMINAL_STATUSES = frozenset({"completed", "partial", "canceled", "refunded", "failed", "expired"})

_ORDER_WORDS: dict[str, str] = {}
for _normal, _words in {
    "pending": ("pending", "awaiting", "waiting", "0"),
    "processing": ("processing", "process", "1"),
    "in_progress": ("in progress", "inprogress", "progress"),
    "active": ("active",),
    "paused": ("paused",),
    "completed": ("completed", "complete", "success", "2"),
    "partial": ("partial", "3"),
    "canceled": ("canceled", "cancelled", "cancel", "4"),
    "refunded": ("refunded", "refunds", "refund", "5"),
    "failed": ("failed", "fail", "error"),
    "expired": ("expired",),
}.items():
    for _word in _words:
        _ORDER_WORDS[_word] = _normal

REFILL_STATUSES = ("pending", "in_progress", "completed", "rejected", "failed", "unknown")

_REFILL_WORDS: dict[str, str] = {}
for _normal, _words in {
    "pending": ("pending", "awaiting", "waiting"),
    "in_progress": ("in progress", "inprogress", "progress", "processing"),
    # "Processed" is the past tense on S27's list: the refill was carried out.
    "completed": ("completed", "complete", "success", "done", "processed"),
    "rejected": ("rejected", "reject", "canceled", "cancelled", "refused", "declined"),
    "failed": ("failed", "fail", "error"),
}.items():
    for _word in _words:
        _REFILL_WORDS[_word] = _normal

_SPACES = re.compile(r"\s+")


def fold(raw: Any) -> str:
    """Case-fold, strip, ``_``/``-`` → space, collapse spaces; ints become their digits."""
    if raw is None or isinstance(raw, bool):
        return ""
    text = str(raw).casefold().replace("_", " ").replace("-", " ")
    return _SPACES.sub(" ", text).strip()


# Status words as providers spelled them → their normal word: a panel uses a handful of
# spellings, read 100,000 times a status-sync cycle. Bounded (a hostile provider's words).
_SPELLED: dict[str, str] = {}
_SPELLED_MAX = 1024


def normalize_order_status(raw: Any) -> str:
    """One of ORDER_STATUSES; unrecognised input gives "unknown" (logged, never raised)."""
    if type(raw) is str and (known := _SPELLED.get(raw)) is not None:
        return known
    normal = _ORDER_WORDS.get(fold(raw))
    if normal is None:
        log.warning("unknown provider order status %r; treating it as unknown", raw)
        return "unknown"
    if type(raw) is str and len(_SPELLED) < _SPELLED_MAX:
        _SPELLED[raw] = normal
    return normal


def is_terminal(status: str) -> bool:
    """True for statuses after which an order never changes again (refills aside)."""
    return status in TERMINAL_STATUSES


def normalize_refill_status(raw: Any) -> str:
    """One of REFILL_STATUSES; unrecognised input gives "unknown"."""
    normal = _REFILL_WORDS.get(fold(raw))
    if normal is None:
        log.warning("unknown provider refill status %r; treating it as unknown", raw)
        return "unknown"
    return normal


KNOWN_SERVICE_TYPES = frozenset(
    {
        "default",
        "package",
        "custom_comments",
        "custom_comments_package",
        "mentions",
        "mentions_with_hashtags",
        "mentions_custom_list",
        "mentions_hashtag",
        "mentions_user_followers",
        "mentions_media_likers",
        "comment_likes",
        "comment_replies",
        "poll",
        "invites_from_groups",
        "seo",
        "web_traffic",
        "subscriptions",
    }
)
_TYPE_ALIASES = {
    "subscription": "subscriptions",
    "comment_reply": "comment_replies",
    "invites_from_group": "invites_from_groups",
    "custom_comment": "custom_comments",
}
# Perfect Panel's internal type ids (S2), used by a few panels instead of names.
_TYPE_IDS = {
    "0": "default",
    "2": "custom_comments",
    "3": "mentions_with_hashtags",
    "4": "mentions_custom_list",
    "6": "mentions_hashtag",
    "7": "mentions_user_followers",
    "8": "mentions_media_likers",
    "9": "mentions",
    "10": "package",
    "14": "custom_comments_package",
    "15": "comment_likes",
    "17": "poll",
    "20": "invites_from_groups",
    "100": "subscriptions",
    "102": "web_traffic",
}
# Q26: these are priced per package, not per 1000 units.
FLAT_RATE_TYPES = frozenset({"package", "custom_comments_package"})


def normalize_service_type(raw: Any) -> str:
    """snake_case type ("Custom Comments" → "custom_comments"); unknown kept raw lower-cased."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return "default"
    folded = fold(raw)
    if folded in _TYPE_IDS:
        return _TYPE_IDS[folded]
    snake = folded.replace(" ", "_")
    snake = _TYPE_ALIASES.get(snake, snake)
    if snake in KNOWN_SERVICE_TYPES:
        return snake
    return str(raw).strip().lower()
