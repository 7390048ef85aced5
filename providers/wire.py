"""Wire-level helpers of the client: secrets masking, id batches, 429 and WAF detection."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterable
from typing import Any

import httpx

MAX_IDS_PER_REQUEST = 100  # documented limit; over it some panels truncate silently (Q31)
_WAF_MARKERS = ("just a moment", "attention required", "cf-browser-verification", "ddos-guard")


def mask_secret(secret: str) -> str:
    """``abcd…wxyz`` for long secrets, ``****`` for short ones (never enough to guess)."""
    if len(secret) < 16:
        return "****"
    return f"{secret[:4]}…{secret[-4:]}"


def unique_ids(ids: Iterable[Any]) -> list[str]:
    """Ids as stripped strings, blanks dropped, duplicates removed, order kept."""
    seen: dict[str, None] = {}
    for raw in ids:
        text = str(raw).strip()
        if text:
            seen.setdefault(text, None)
    return list(seen)


def chunked(ids: list[str], size: int = MAX_IDS_PER_REQUEST) -> list[list[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def retry_after(headers: httpx.Headers) -> tuple[float | None, int | None]:
    """(seconds to wait, reset epoch) from Retry-After or X-RateLimit-Reset (S13)."""
    reset_epoch: int | None = None
    reset_wait = _float(headers.get("x-ratelimit-reset"))
    if reset_wait is not None and reset_wait > 1_000_000_000:  # an epoch, not a delay
        reset_epoch = int(reset_wait)
        reset_wait = reset_wait - time.time()
    header = headers.get("retry-after")
    wait = _float(header)
    if wait is None and header:
        try:
            wait = email.utils.parsedate_to_datetime(header).timestamp() - time.time()
        except (TypeError, ValueError):
            wait = None
    if wait is None:
        wait = reset_wait
    return (None if wait is None else max(0.0, wait)), reset_epoch


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def looks_like_waf(status: int, headers: httpx.Headers, text: str) -> bool:
    if status not in (403, 429, 503):
        return False
    server = headers.get("server", "").lower()
    lowered = text[:2000].lower()
    return (
        "cloudflare" in server
        or "cf-ray" in headers
        or any(marker in lowered for marker in _WAF_MARKERS)
    )
