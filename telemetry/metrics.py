"""The panel's Prometheus metrics (README, "Running in production" → "Health and metrics").

Process-wide, in prometheus_client's default registry (with its process and GC metrics), so
that a caller records with one call and no object to pass around; each replica is its own
scrape target. Counters and histograms move in place on the hot path; the gauges that need
the database (backlogs) are set by the /metrics handler from one query per scrape.

Provider labels carry the provider's name (what /providers shows). Code that knows only an
order's provider id asks ``provider_label``, which the provider registry keeps current.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram
from prometheus_client import generate_latest as _generate_latest

# Seconds: provider answers take tens of ms to the 15-20 s deadlines.
_REQUEST_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 60.0)
# Placed → accepted by the provider: at once normally, minutes when a provider backs off.
_SUBMISSION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
_SYNC_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)

ORDERS_PLACED = Counter(
    "smm_orders_placed", "Orders charged and created (queued or manual)", ["provider"]
)
ORDERS_SUBMITTED = Counter(
    "smm_orders_submitted", "Orders the provider accepted (submitting → pending)", ["provider"]
)
ORDERS_FAILED = Counter("smm_orders_failed", "Orders moved to failed", ["provider"])
ORDERS_REVIEW = Counter("smm_orders_review", "Orders moved to review", ["provider"])
SUBMISSION_SECONDS = Histogram(
    "smm_order_submission_seconds",
    "From an order placed to its provider accepting it",
    ["provider"],
    buckets=_SUBMISSION_BUCKETS,
)
PROVIDER_REQUESTS = Counter(
    "smm_provider_requests",
    "Provider API requests by outcome: ok, refused (the provider answered an error), "
    "rate_limited, timeout (no complete answer in time), transport (connection, HTTP 5xx, "
    "redirect), bad_answer (not JSON)",
    ["provider", "action", "outcome"],
)
PROVIDER_REQUEST_SECONDS = Histogram(
    "smm_provider_request_seconds",
    "One provider HTTP exchange (after pacing), whatever its outcome",
    ["provider", "action"],
    buckets=_REQUEST_BUCKETS,
)
STATUS_SYNC_SECONDS = Histogram(
    "smm_status_sync_seconds",
    "One status-sync cycle of one provider",
    ["provider"],
    buckets=_SYNC_BUCKETS,
)
STATUS_SYNC_LAST = Gauge(
    "smm_status_sync_last_success_timestamp_seconds",
    "When a status-sync cycle of this provider last finished (Unix time)",
    ["provider"],
)
OUTBOX_SENT = Counter("smm_outbox_sent", "Outbox messages Telegram accepted")
OUTBOX_FAILED = Counter("smm_outbox_failed", "Outbox sends that failed and will be retried")
TELEGRAM_RATE_LIMITED = Counter(
    "smm_telegram_rate_limited", "Telegram 429 answers (retry_after) to outbox sends"
)
TELEGRAM_BLOCKED = Counter(
    "smm_telegram_blocked_users", "Chats found unreachable (blocked the bot, deleted)"
)
BALANCE_CREDITED = Counter(
    "smm_balance_credited",
    "Money put on customer balances, in the panel currency, by method (stars, cryptopay, admin)",
    ["method"],
)
# Set per scrape from the database (see bot/health.py).
OUTBOX_BACKLOG = Gauge(
    "smm_outbox_backlog", "Notifications not sent yet (order updates, receipts, alerts)"
)
BROADCAST_BACKLOG = Gauge("smm_broadcast_backlog", "Broadcast messages not sent yet")
ORDERS_QUEUED = Gauge("smm_orders_queued", "Orders waiting to be sent to their provider")
ORDERS_IN_REVIEW = Gauge("smm_orders_in_review", "Orders waiting for an admin in review")
STATUS_SYNC_BACKLOG = Gauge(
    "smm_status_sync_backlog", "Active orders the status sync follows at their providers"
)

_provider_names: dict[int, str] = {}


def remember_provider(provider_id: int | None, name: str) -> None:
    """The name a provider id is labelled with (the registry calls this for every client)."""
    if provider_id is not None and name:
        _provider_names[int(provider_id)] = name


def provider_label(provider_id: int | None) -> str:
    if provider_id is None:
        return "none"
    return _provider_names.get(int(provider_id)) or f"id:{provider_id}"


def order_placed(provider_id: int | None) -> None:
    ORDERS_PLACED.labels(provider_label(provider_id)).inc()


def order_moved(
    provider_id: int | None, old: str | None, new: str, *, placed_at: datetime | None
) -> None:
    """An order changed status (core.lifecycle.change_status)."""
    provider = provider_label(provider_id)
    if new == "pending" and old == "submitting":
        ORDERS_SUBMITTED.labels(provider).inc()
        if placed_at is not None and placed_at.tzinfo is not None:
            age = (datetime.now(UTC) - placed_at).total_seconds()
            SUBMISSION_SECONDS.labels(provider).observe(max(age, 0.0))
    elif new == "failed":
        ORDERS_FAILED.labels(provider).inc()
    elif new == "review":
        ORDERS_REVIEW.labels(provider).inc()


def provider_request(provider: str, action: str, outcome: str) -> None:
    PROVIDER_REQUESTS.labels(provider, action, outcome).inc()


def provider_latency(provider: str, action: str, seconds: float) -> None:
    PROVIDER_REQUEST_SECONDS.labels(provider, action).observe(seconds)


def status_sync_cycle(provider_id: int, seconds: float) -> None:
    provider = provider_label(provider_id)
    STATUS_SYNC_SECONDS.labels(provider).observe(seconds)
    STATUS_SYNC_LAST.labels(provider).set_to_current_time()


def balance_credited(method: str, amount: Decimal) -> None:
    if amount > 0:
        BALANCE_CREDITED.labels(method).inc(float(amount))


def set_backlogs(*, outbox: int, broadcast: int, queued: int, review: int, syncing: int) -> None:
    OUTBOX_BACKLOG.set(outbox)
    BROADCAST_BACKLOG.set(broadcast)
    ORDERS_QUEUED.set(queued)
    ORDERS_IN_REVIEW.set(review)
    STATUS_SYNC_BACKLOG.set(syncing)


def exposition() -> tuple[bytes, str]:
    """The text a scrape gets, and its Content-Type."""
    return _generate_latest(REGISTRY), CONTENT_TYPE_LATEST
