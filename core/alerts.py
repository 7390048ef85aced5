"""Admin alerts (SPEC §4): the kinds, one payload builder per kind, and raising one.

Core decides what admins hear and how often; handlers.notifications words each kind in the
admin's language at send time. An alert is deduplicated per key: raised again within its
interval it is only counted, so a watch that runs every minute does not flood the chat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import notify
from core.money import format_money
from db.models import AdminAlert, Provider
from db.types import utcnow

ALERT_INTERVAL = timedelta(hours=1)
LOW_BALANCE_INTERVAL = timedelta(hours=6)
PRICE_ALERT_INTERVAL = timedelta(hours=24)
REVIEW_ALERT_INTERVAL = timedelta(minutes=10)
STALE_ALERT_INTERVAL = timedelta(hours=24)
DETAIL_LIMIT = 300  # characters of a provider's message or a reason in an alert


class AlertKind(StrEnum):
    PROVIDER_NO_FUNDS = "provider_no_funds"
    PROVIDER_KEY = "provider_key"
    PROVIDER_FAILING = "provider_failing"
    PROVIDER_LOW_BALANCE = "provider_low_balance"
    PROVIDER_PRICE_ABOVE = "provider_price_above"
    PROVIDER_FX_MISSING = "provider_fx_missing"
    SERVICE_UNAVAILABLE = "service_unavailable"
    ORDERS_REVIEW = "orders_review"
    ORDERS_MANUAL = "orders_manual"
    STALE_ORDERS = "stale_orders"
    PAYMENT_UNMATCHED = "payment_unmatched"
    PAYMENT_QUESTION = "payment_question"
    REFUND_ABOVE_STATUS = "refund_above_status"


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    key: str  # one alert per key per interval
    payload: dict[str, Any]
    interval: timedelta = ALERT_INTERVAL


def provider_no_funds(provider: Provider) -> Alert:
    return Alert(
        AlertKind.PROVIDER_NO_FUNDS, f"provider:{provider.id}:no_funds", {"provider": provider.name}
    )


def provider_key(provider: Provider, message: str) -> Alert:
    """The provider refused our key or account."""
    payload = {"provider": provider.name, "message": message[:DETAIL_LIMIT]}
    return Alert(AlertKind.PROVIDER_KEY, f"provider:{provider.id}:key", payload)


def provider_failing(provider: Provider, failures: int, message: str) -> Alert:
    payload = {"provider": provider.name, "failures": failures, "message": message[:DETAIL_LIMIT]}
    return Alert(AlertKind.PROVIDER_FAILING, f"provider:{provider.id}:failing", payload)


def provider_low_balance(provider: Provider, balance: Decimal, currency: str | None) -> Alert:
    """The balance just read is below the provider's threshold."""
    payload = {
        "provider": provider.name,
        "balance": format_money(balance),
        "currency": currency or provider.currency or "",
        "threshold": format_money(provider.low_balance_threshold),
    }
    return Alert(
        AlertKind.PROVIDER_LOW_BALANCE,
        f"provider:{provider.id}:low_balance",
        payload,
        LOW_BALANCE_INTERVAL,
    )


def provider_fx_missing(provider: Provider, panel_currency: str) -> Alert:
    """The provider bills in another currency and no conversion rate is set (core.fx)."""
    payload = {"provider": provider.name, "theirs": provider.currency or "", "ours": panel_currency}
    return Alert(
        AlertKind.PROVIDER_FX_MISSING,
        f"provider:{provider.id}:fx_missing",
        payload,
        LOW_BALANCE_INTERVAL,
    )


def provider_price_above(
    provider: str, service_id: int, service: str, price: Decimal, cost: Decimal, per: str
) -> Alert:
    """The provider now charges `cost` per `per` ("1000" or "package"), above our `price`."""
    payload = {
        "service_id": service_id,
        "service": service[:100],
        "provider": provider,
        "price": format_money(price),
        "rate": format_money(cost),
        "per": per,
    }
    return Alert(
        AlertKind.PROVIDER_PRICE_ABOVE,
        f"service:{service_id}:price_above",
        payload,
        PRICE_ALERT_INTERVAL,
    )


def service_unavailable(
    provider: str, service_id: int, service: str, provider_service_id: str | None
) -> Alert:
    payload = {
        "service_id": service_id,
        "service": service,
        "provider": provider,
        "provider_service_id": provider_service_id,
    }
    return Alert(
        AlertKind.SERVICE_UNAVAILABLE,
        f"service:{service_id}:unavailable",
        payload,
        PRICE_ALERT_INTERVAL,
    )


def orders_review(order_id: int, reason: str) -> Alert:
    payload = {"order_id": order_id, "reason": reason[:DETAIL_LIMIT]}
    return Alert(AlertKind.ORDERS_REVIEW, "orders:review", payload, REVIEW_ALERT_INTERVAL)


def orders_manual(order_id: int, service: str) -> Alert:
    payload = {"order_id": order_id, "service": service}
    return Alert(AlertKind.ORDERS_MANUAL, "orders:manual", payload)


def stale_orders(count: int, order_ids: list[int], hours: int) -> Alert:
    payload = {"count": count, "order_ids": order_ids, "hours": hours}
    return Alert(AlertKind.STALE_ORDERS, "orders:stale", payload, STALE_ALERT_INTERVAL)


def payment_unmatched(
    method: str,
    external_id: str,
    user_id: int | None,
    price: Decimal,
    price_currency: str,
    reason: str,
) -> Alert:
    """Money arrived for no invoice of ours (kept, not credited): once per payment."""
    payload = {
        "method": method,
        "external_id": external_id,
        "user_id": user_id,
        "price": f"{price.normalize():f}",  # as paid: 300 (Stars), 7.5 (fiat)
        "price_currency": price_currency,
        "reason": reason[:DETAIL_LIMIT],
    }
    return Alert(
        AlertKind.PAYMENT_UNMATCHED, f"payment_unmatched:{method}:{external_id}"[:160], payload
    )


def payment_question(user_id: int, name: str, question: str, payments: str, key: str) -> Alert:
    """A customer's /paysupport question; `key` (their message) makes a repeat arrive once."""
    payload = {
        "user_id": user_id,
        "name": name[:100],
        "question": question[:1000],
        "payments": payments[:1000],
    }
    return Alert(AlertKind.PAYMENT_QUESTION, f"paysupport:{key}"[:160], payload)


def refund_above_status(order_id: int, status: str, refunded: Decimal, implied: Decimal) -> Alert:
    """A status implies less money back than the order already got (partial → completed,
    an admin's refund then a smaller partial): nothing was taken back; an admin decides."""
    payload = {
        "order_id": order_id,
        "status": status,
        "refunded": f"{refunded.normalize():f}",
        "implied": f"{implied.normalize():f}",
    }
    return Alert(AlertKind.REFUND_ABOVE_STATUS, f"order:{order_id}:refund_above:{status}", payload)


async def raise_alert(
    session: AsyncSession, admin_ids: frozenset[int] | set[int], alert: Alert
) -> bool:
    """Tell every admin, at most once per the alert's interval for its key. True if sent."""
    now = utcnow()
    row = await session.get(AdminAlert, alert.key)
    if row is not None and now - row.last_sent_at < alert.interval:
        row.count += 1
        return False
    if row is None:
        session.add(AdminAlert(key=alert.key, last_sent_at=now, count=1))
    else:
        row.last_sent_at, row.count = now, 1
    for admin_id in admin_ids:
        notify.enqueue(
            session, admin_id, notify.ADMIN_ALERT, {"alert": alert.kind.value, **alert.payload}
        )
    return True
