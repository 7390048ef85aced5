"""Drip-feed and subscription fields as a customer types them, each bounded once here.

Drip-feed (smm-api-v2 §3.2, Q28): the quantity is per run, runs × quantity is delivered and
charged; runs and interval (minutes) travel together. Subscriptions (auto likes/views on new
posts): username, min and max per post, how many future posts, the delay before each, and an
optional expiry (sent d/m/Y, Q30). The chat charges a subscription up front for its posts at
the per-post maximum and refunds the posts the provider reports it did not serve.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from core.errors import Refusal
from core.pricing import parse_quantity

MIN_RUNS, MAX_RUNS = 2, 100
MIN_INTERVAL, MAX_INTERVAL = 1, 1440  # minutes between runs: up to a day
MIN_POSTS, MAX_POSTS = 1, 1000
# The delays the reference lists across panels (minutes).
DELAYS = (0, 5, 10, 15, 20, 30, 40, 50, 60, 90, 120, 150, 180, 210, 240, 270, 300, 360, 420)
DELAYS += (480, 540, 600)
MAX_EXPIRY_DAYS = 366
USERNAME_RE = re.compile(r"^@?([A-Za-z0-9._]{1,64})$")
EXPIRY_FORMAT = "%d/%m/%Y"


class FieldError(Refusal):
    """A value the customer typed is refused; `code` picks the message, details fill it."""


def _number(text: str, code: str, low: int, high: int) -> int:
    value = parse_quantity(text)
    if value is None or not low <= value <= high:
        raise FieldError(code, min=low, max=high)
    return value


def parse_runs(text: str) -> int:
    return _number(text, "bad_runs", MIN_RUNS, MAX_RUNS)


def parse_interval(text: str) -> int:
    return _number(text, "bad_interval", MIN_INTERVAL, MAX_INTERVAL)


def parse_posts(text: str) -> int:
    return _number(text, "bad_posts", MIN_POSTS, MAX_POSTS)


def parse_delay(text: str) -> int:
    value = parse_quantity(text)
    if value is None or value not in DELAYS:
        raise FieldError("bad_delay", delays=", ".join(map(str, DELAYS)))
    return value


def parse_username(text: str) -> str:
    """An account name with or without @ (a profile link's last part also works)."""
    text = text.strip().rstrip("/")
    if "/" in text:
        text = text.rsplit("/", 1)[1]
    found = USERNAME_RE.match(text)
    if found is None:
        raise FieldError("bad_username")
    return found.group(1)


def parse_per_post(text: str, service_min: int, service_max: int) -> int:
    """A per-post quantity (the subscription's min or max) inside the service's range."""
    return _number(text, "bad_per_post", service_min, service_max)


def parse_expiry(text: str, today: date) -> date | None:
    """d/m/Y in the future, at most a year ahead; "-" for none."""
    text = text.strip()
    if text in ("-", "0"):
        return None
    try:
        value = datetime.strptime(text.replace(".", "/").replace("-", "/"), EXPIRY_FORMAT).date()
    except ValueError as exc:
        raise FieldError("bad_expiry") from exc
    if value <= today or (value - today).days > MAX_EXPIRY_DAYS:
        raise FieldError("bad_expiry")
    return value


@dataclass(frozen=True)
class DripFeed:
    runs: int
    interval: int

    def as_extra(self) -> dict[str, Any]:
        return {"runs": self.runs, "interval": self.interval}


@dataclass(frozen=True)
class Subscription:
    username: str
    min: int
    max: int
    posts: int
    delay: int
    expiry: date | None = None

    def as_extra(self) -> dict[str, Any]:
        expiry = self.expiry.strftime(EXPIRY_FORMAT) if self.expiry else None
        return {
            "username": self.username,
            "min": self.min,
            "max": self.max,
            "posts": self.posts,
            "delay": self.delay,
            "expiry": expiry,
        }


def dripfeed_of(extra: dict[str, Any] | None) -> DripFeed | None:
    """The drip-feed an order's extra fields carry (None for a plain order)."""
    if not extra or "runs" not in extra:
        return None
    return DripFeed(int(extra["runs"]), int(extra["interval"]))


def subscription_of(extra: dict[str, Any] | None) -> Subscription | None:
    if not extra or "posts" not in extra or "username" not in extra:
        return None
    expiry = extra.get("expiry")
    return Subscription(
        str(extra["username"]),
        int(extra["min"]),
        int(extra["max"]),
        int(extra["posts"]),
        int(extra["delay"]),
        datetime.strptime(expiry, EXPIRY_FORMAT).date() if expiry else None,
    )
