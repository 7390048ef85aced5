"""Panel order statuses (SPEC §5) and how provider statuses map onto them."""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    QUEUED = "queued"  # charged, not yet accepted by a provider
    SUBMITTING = "submitting"  # an add request is in flight; a crash here means review
    PENDING = "pending"
    PROCESSING = "processing"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    PARTIAL = "partial"
    CANCELED = "canceled"
    FAILED = "failed"
    REVIEW = "review"
    MANUAL = "manual"


ACTIVE_STATUSES = frozenset({OrderStatus.PENDING, OrderStatus.PROCESSING, OrderStatus.IN_PROGRESS})

# Client-normalised provider statuses (providers.types) -> panel statuses.
PROVIDER_TO_PANEL: dict[str, OrderStatus] = {
    "pending": OrderStatus.PENDING,
    "processing": OrderStatus.PROCESSING,
    "in_progress": OrderStatus.IN_PROGRESS,
    "active": OrderStatus.IN_PROGRESS,  # subscription / drip-feed parent still running
    "paused": OrderStatus.IN_PROGRESS,
    "completed": OrderStatus.COMPLETED,
    "partial": OrderStatus.PARTIAL,
    "canceled": OrderStatus.CANCELED,
    "refunded": OrderStatus.CANCELED,  # money came back: same as a cancel for the customer
    "expired": OrderStatus.COMPLETED,  # a subscription that ran its course
    "failed": OrderStatus.FAILED,  # the provider gave up after accepting: full refund
}


class LedgerKind(StrEnum):
    TOPUP = "topup"  # admin credit
    ADMIN_DEBIT = "admin_debit"
    PAYMENT = "payment"  # a self-service top-up (Telegram Stars, Crypto Pay)
    PAYMENT_REFUND = "payment_refund"  # the money of a payment given back (/refundpayment)
    ORDER_CHARGE = "order_charge"
    REFUND = "refund"
    REFERRAL = "referral"  # a referrer's share of an invited customer's top-up


class PaymentMethod(StrEnum):
    STARS = "stars"
    CRYPTOPAY = "cryptopay"


class PaymentStatus(StrEnum):
    PENDING = "pending"  # invoice issued, not paid yet
    PAID = "paid"  # credited
    EXPIRED = "expired"  # its time ran out unpaid (a late payment still credits)
    FAILED = "failed"  # the invoice could not be created
    REFUNDING = "refunding"  # an admin's refund is in flight
    REFUNDED = "refunded"
    UNMATCHED = "unmatched"  # money arrived for no invoice of ours: admins decide
