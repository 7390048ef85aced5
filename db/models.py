"""SQLAlchemy models: every entity of the panel (SPEC §3–§6)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from db.types import EncryptedText, Money, UtcDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        Decimal: Money(),
        dict[str, Any]: JSON(),
    }


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class User(Timestamps, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    username: Mapped[str | None] = mapped_column(String(64))
    first_name: Mapped[str] = mapped_column(String(128), default="")
    language: Mapped[str | None] = mapped_column(String(8))
    balance: Mapped[Decimal] = mapped_column(default=Decimal(0))
    # The user blocked the bot (or deleted the account): stop sending until they write again.
    is_blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    # Who invited them (referrals): set once, on their first /start through a link.
    # (No foreign key: adding one would make SQLite rebuild the users table.)
    referred_by: Mapped[int | None] = mapped_column(BigInteger, index=True)
    referred_at: Mapped[datetime | None]


class LedgerEntry(Base):
    """One balance change. For every user: balance == sum(amount)."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal]  # signed: credits positive, debits negative
    balance_after: Mapped[Decimal]
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    admin_id: Mapped[int | None] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(Text)
    # "charge:<order>", "refund:<order>:<reason>", "topup:<uuid>" ... never written twice.
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Provider(Timestamps, Base):
    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    api_url: Mapped[str] = mapped_column(String(512))
    api_key: Mapped[str] = mapped_column(EncryptedText())  # encrypted with SECRET_KEY
    currency: Mapped[str | None] = mapped_column(String(8))
    balance: Mapped[Decimal | None]
    balance_checked_at: Mapped[datetime | None]
    low_balance_threshold: Mapped[Decimal] = mapped_column(default=Decimal(0))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    # Submission backoff (no funds / unreachable): queued orders wait until then.
    retry_after: Mapped[datetime | None]
    # Pacing set by /providerset (None: the defaults, 5 requests/s and 4 at once).
    rate_per_second: Mapped[float | None] = mapped_column(Float)
    concurrency: Mapped[int | None] = mapped_column(Integer)
    # Panel currency per one unit of the provider's (its balance answer names its currency);
    # None while unknown: the provider's prices cannot be compared with ours until it is set.
    fx_rate: Mapped[Decimal | None]


class ProviderService(Base):
    """A service as the provider offers it (the imported catalogue)."""

    __tablename__ = "provider_services"
    __table_args__ = (UniqueConstraint("provider_id", "service_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"))
    service_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(64), default="default")
    category: Mapped[str | None] = mapped_column(Text)
    rate: Mapped[Decimal]
    rate_basis: Mapped[str] = mapped_column(String(16), default="per_1000")
    min: Mapped[int] = mapped_column(Integer)
    max: Mapped[int] = mapped_column(Integer)
    refill: Mapped[bool | None] = mapped_column(Boolean)
    cancel: Mapped[bool | None] = mapped_column(Boolean)
    dripfeed: Mapped[bool | None] = mapped_column(Boolean)
    description: Mapped[str | None] = mapped_column(Text)
    # False once the provider stopped offering it (kept for history and /check).
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    # instagram, tiktok, youtube, telegram, ... drives link validation; None = any URL.
    platform: Mapped[str | None] = mapped_column(String(32))
    sort: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)

    services: Mapped[list[Service]] = relationship(back_populates="category")


class Service(Timestamps, Base):
    """A service as the panel sells it; its Service ID is what customers and admins see."""

    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(64), default="default")
    # Price per 1000 units; for package types ("flat") the price of one package.
    price: Mapped[Decimal]
    rate_basis: Mapped[str] = mapped_column(String(16), default="per_1000")
    min: Mapped[int] = mapped_column(Integer, default=1)
    max: Mapped[int] = mapped_column(Integer, default=1)
    step: Mapped[int] = mapped_column(Integer, default=1)
    mode: Mapped[str] = mapped_column(String(8), default="auto")  # auto | manual
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), index=True)
    provider_service_id: Mapped[str | None] = mapped_column(String(64))
    refill: Mapped[bool] = mapped_column(Boolean, default=False)
    cancel: Mapped[bool] = mapped_column(Boolean, default=False)
    dripfeed: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)

    category: Mapped[Category] = relationship(back_populates="services")
    provider: Mapped[Provider | None] = relationship()


class ServiceMapping(Base):
    """A further provider service for a panel service (failover), tried in priority order.

    The service's own provider_id/provider_service_id is priority 1; these rows are 2, 3...
    """

    __tablename__ = "service_mappings"
    __table_args__ = (UniqueConstraint("service_id", "priority"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), index=True
    )
    provider_service_id: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    provider: Mapped[Provider] = relationship()


class CacheVersion(Base):
    """One row per thing the processes cache ("catalog", "users"): a number every change to it
    raises in its own transaction (db.cache_versions), so each replica sees it is stale."""

    __tablename__ = "cache_versions"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class Order(Timestamps, Base):
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_status_provider", "status", "provider_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    provider_service_id: Mapped[str | None] = mapped_column(String(64))
    link: Mapped[str] = mapped_column(Text)
    quantity: Mapped[int] = mapped_column(Integer)
    # comments, usernames, runs/interval ... the per-type fields sent with action=add
    extra: Mapped[dict[str, Any] | None]
    charge: Mapped[Decimal]
    cost: Mapped[Decimal | None]  # what the provider billed us, in its currency
    refunded: Mapped[Decimal] = mapped_column(default=Decimal(0))
    status: Mapped[str] = mapped_column(String(16), index=True)
    provider_status: Mapped[str | None] = mapped_column(String(64))  # raw, as last reported
    provider_order_id: Mapped[str | None] = mapped_column(String(128))
    start_count: Mapped[int | None] = mapped_column(BigInteger)
    remains: Mapped[int | None] = mapped_column(BigInteger)
    # Drip-feed: runs done so far; subscriptions: posts served so far (as the provider says).
    runs_done: Mapped[int | None] = mapped_column(Integer)
    posts_done: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)  # raw, for admins
    error_code: Mapped[str | None] = mapped_column(String(64))  # drives the customer's reason
    next_attempt_at: Mapped[datetime | None]
    # Mappings ("provider:service") that refused this order for a reason about the provider,
    # while it is handed from lane to lane (core.submission): none is tried twice.
    failover_tried: Mapped[list[str] | None] = mapped_column(JSON)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Double taps and replays of one confirmation carry the same key: one order.
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    # The customer's confirmation message: the provider's answer is shown by editing it.
    confirm_message_id: Mapped[int | None] = mapped_column(BigInteger)

    user: Mapped[User] = relationship()
    service: Mapped[Service] = relationship()
    provider: Mapped[Provider | None] = relationship()
    history: Mapped[list[OrderStatusChange]] = relationship(
        back_populates="order", order_by="OrderStatusChange.id"
    )


class OrderStatusChange(Base):
    __tablename__ = "order_status_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    old_status: Mapped[str | None] = mapped_column(String(16))
    new_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    admin_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    order: Mapped[Order] = relationship(back_populates="history")


class Refill(Timestamps, Base):
    __tablename__ = "refills"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    provider_refill_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    provider_status: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)


class Notification(Base):
    """Outbox: every message background work sends is a row first."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|skipped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Being sent until then (a sender's lease, renewed while it works); None when not.
    leased_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    # Set on a broadcast's rows: they go after every other notification (SPEC §11).
    broadcast_id: Mapped[int | None] = mapped_column(Integer, index=True)


class AdminAuditLog(Base):
    __tablename__ = "admin_audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    admin_id: Mapped[int] = mapped_column(BigInteger, index=True)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(128))  # "order:42", "user:1001" ...
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProviderFailure(Base):
    """One failed provider call, for /errors and failure alerts (the exception raised by
    the client is providers.ProviderError; core.provider_failures writes these rows)."""

    __tablename__ = "provider_errors"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(
        ForeignKey("providers.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[int | None] = mapped_column(Integer)
    code: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class AdminAlert(Base):
    """Deduplication of admin alerts: one alert per key until it is due again."""

    __tablename__ = "admin_alerts"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    last_sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    count: Mapped[int] = mapped_column(Integer, default=1)


class Payment(Timestamps, Base):
    """A self-service top-up: an invoice we issued (Telegram Stars, Crypto Pay) and its fate.

    `token` travels in the invoice payload and finds the row again; `external_id` is the
    payment service's own id (Stars: telegram_payment_charge_id once paid; Crypto Pay: the
    invoice id from creation). A payment that matches no invoice of ours is kept too
    (status unmatched, amount 0), so an admin can see it and refund it.
    """

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("method", "external_id"),
        Index("ix_payments_status_method", "status", "method"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None only for an unmatched Crypto Pay invoice: Crypto Pay does not say who paid it.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    method: Mapped[str] = mapped_column(String(16))  # stars | cryptopay
    # pending | paid | expired | failed | refunding | refunded | unmatched
    status: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal]  # what the balance gets, in the panel currency
    currency: Mapped[str] = mapped_column(String(8))  # the panel currency at creation
    price: Mapped[Decimal]  # what the customer pays: Stars, or the fiat amount
    price_currency: Mapped[str] = mapped_column(String(8))  # XTR, or the fiat code
    token: Mapped[str] = mapped_column(String(32), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(128))
    pay_url: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    paid_asset: Mapped[str | None] = mapped_column(String(16))
    paid_amount: Mapped[str | None] = mapped_column(String(64))  # as the service reported it
    refunded_at: Mapped[datetime | None]
    # Where the customer's invoice screen is, so expiry can tell them in that chat.
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(Text)


class PanelSetting(Base):
    """A setting the owner changes from the chat (e.g. the referral percentage); the
    environment gives the default until then."""

    __tablename__ = "panel_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SupportTicket(Timestamps, Base):
    """A customer's question to the admins; its messages both ways are SupportMessage rows."""

    __tablename__ = "support_tickets"
    __table_args__ = (Index("ix_support_tickets_user_status", "user_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    closed_by: Mapped[int | None] = mapped_column(BigInteger)
    closed_at: Mapped[datetime | None]


class SupportMessage(Base):
    __tablename__ = "support_messages"
    __table_args__ = (Index("ix_support_messages_author_created", "author_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("support_tickets.id"), index=True)
    author_id: Mapped[int] = mapped_column(BigInteger)
    from_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    text: Mapped[str] = mapped_column(Text)
    # The admin's Telegram message: a redelivered reply is stored (and sent) once.
    source_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Broadcast(Timestamps, Base):
    """One message to many customers, delivered through the outbox (its rows carry our id).

    draft → sending → done | cancelled. Progress is counted from the outbox rows, so it is
    exact across restarts and replicas; `progress_shown` is what the admin's message says.
    """

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    admin_id: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str | None] = mapped_column(Text)  # HTML; the caption when there is a photo
    photo_file_id: Mapped[str | None] = mapped_column(String(256))
    button_text: Mapped[str | None] = mapped_column(String(64))
    button_url: Mapped[str | None] = mapped_column(String(512))
    audience: Mapped[str] = mapped_column(String(16), default="all")  # all | ordered | lang_<code>
    status: Mapped[str] = mapped_column(String(16), default="draft")
    total: Mapped[int] = mapped_column(Integer, default=0)
    progress_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_shown: Mapped[str | None] = mapped_column(String(64))
    finished_at: Mapped[datetime | None]
