"""Settings from the environment / .env (SPEC §2). Built once in __main__ and passed down."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.i18n import LOCALES_DIR
from db.engine import DEFAULT_DATABASE_URL
from db.secrets import KeyRing

TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
# Fiat currencies Crypto Pay prices invoices in (its `fiat` parameter).
CRYPTO_PAY_FIATS = frozenset(
    {
        "USD", "EUR", "RUB", "BYN", "UAH", "GBP", "CNY", "KZT", "UZS", "GEL",
        "TRY", "AMD", "THB", "INR", "BRL", "IDR", "AZN", "AED", "PLN", "ILS",
    }
)  # fmt: skip
SUPPORTED_DATABASES = {"sqlite+aiosqlite", "postgresql+asyncpg"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    database_url: str = DEFAULT_DATABASE_URL
    telegram_api_url: str | None = None
    status_sync_seconds: int = Field(default=60, ge=1)
    redis_url: str | None = None
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen_host: str = "0.0.0.0"
    webhook_listen_port: int = Field(default=8080, ge=1, le=65535)
    currency: str = Field(default="USD", min_length=1, max_length=8)
    default_language: str = "en"
    submit_interval_seconds: int = Field(default=10, ge=1)
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    # Polling mode: /healthz and /metrics on this port when set (webhook mode serves them on
    # the webhook's port). Loopback by default: metrics are for the monitoring host only.
    health_port: int | None = Field(default=None, ge=1, le=65535)
    health_host: str = "127.0.0.1"
    # Self-service top-ups (SPEC §10): limits in the panel currency, buttons, invoice lifetime.
    topup_min: Decimal = Field(default=Decimal(1), gt=0, le=Decimal(10) ** 8)
    topup_max: Decimal = Field(default=Decimal(1000), gt=0, le=Decimal(10) ** 8)
    topup_presets: Annotated[tuple[Decimal, ...], NoDecode] = (
        Decimal(5),
        Decimal(10),
        Decimal(25),
        Decimal(50),
    )
    payment_invoice_minutes: int = Field(default=60, ge=1, le=44640)  # Crypto Pay: ≤ 31 days
    stars_enabled: bool = True
    stars_per_unit: Decimal = Field(default=Decimal(75), gt=0, le=Decimal(10) ** 6)
    crypto_pay_token: SecretStr | None = None
    crypto_pay_api_url: str = "https://pay.crypt.bot"
    crypto_pay_assets: Annotated[tuple[str, ...], NoDecode] = ("USDT", "TON", "BTC")
    crypto_pay_poll_seconds: int = Field(default=30, ge=1)
    # Fernet keys, comma-separated (the first encrypts): provider keys encrypted at rest.
    secret_key: SecretStr | None = None
    # Growth (SPEC §11). The owner can change the referral terms from the chat (/referrers).
    referral_percent: Decimal = Field(default=Decimal(5), ge=0, le=100, decimal_places=2)
    referral_admin_topups: bool = False
    broadcast_rate: int = Field(default=20, ge=1, le=25)
    support_messages_per_hour: int = Field(default=10, ge=1, le=1000)

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        if not TOKEN_RE.match(value.get_secret_value().strip()):
            raise ValueError("must look like 123456:ABC-DEF (the token from @BotFather)")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _parse_admin_ids(cls, value: object) -> object:
        if isinstance(value, int):
            return frozenset({value})
        if not isinstance(value, str):
            return value
        ids = set()
        for part in value.replace(";", ",").split(","):
            part = part.strip()
            if not part:
                continue
            if not re.fullmatch(r"-?\d+", part):
                raise ValueError(f"{part!r} is not a Telegram user id (comma-separated integers)")
            ids.add(int(part))
        return frozenset(ids)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        value = value.strip()
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError(f"cannot parse {value!r}") from exc
        if url.drivername in ("postgresql", "postgres"):
            return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
        if url.drivername == "sqlite":
            return url.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
        if url.drivername not in SUPPORTED_DATABASES:
            raise ValueError(
                f"unsupported driver {url.drivername!r}; use sqlite+aiosqlite:///path "
                "or postgresql+asyncpg://user:pass@host/db"
            )
        return value

    @field_validator("telegram_api_url", "webhook_url", "redis_url")
    @classmethod
    def _url_or_none(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not re.match(r"^[a-z][a-z0-9+.-]*://[^\s/]+", value):
            raise ValueError(f"{value!r} is not a URL")
        return value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("health_port", mode="before")
    @classmethod
    def _unset_port(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("secret_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        KeyRing(value.get_secret_value())  # SecretKeyError (a ValueError) names the fix
        return SecretStr(value.get_secret_value().strip())

    @field_validator("currency")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @field_validator("topup_presets", mode="before")
    @classmethod
    def _parse_presets(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        presets = []
        for part in value.replace(";", ",").split(","):
            if part.strip():
                try:
                    presets.append(Decimal(part.strip()))
                except InvalidOperation:
                    raise ValueError(f"{part.strip()!r} is not an amount") from None
        return tuple(presets)

    @field_validator("crypto_pay_token", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("crypto_pay_api_url")
    @classmethod
    def _crypto_pay_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.removesuffix("/api")

    @field_validator("crypto_pay_assets", mode="before")
    @classmethod
    def _parse_assets(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip().upper() for part in value.split(",") if part.strip()]
        return value

    @field_validator("default_language")
    @classmethod
    def _has_catalog(cls, value: str) -> str:
        value = value.strip()
        if not (LOCALES_DIR / value / "LC_MESSAGES").is_dir():
            available = sorted(p.name for p in LOCALES_DIR.iterdir() if p.is_dir())
            raise ValueError(f"no catalog for {value!r}; available: {', '.join(available)}")
        return value

    @model_validator(mode="after")
    def _webhook_pair(self) -> Settings:
        if self.webhook_url and not self.webhook_secret:
            raise ValueError("WEBHOOK_URL needs WEBHOOK_SECRET (Telegram's secret_token)")
        if self.topup_min > self.topup_max:
            raise ValueError("TOPUP_MIN must not be above TOPUP_MAX")
        if any(not self.topup_min <= p <= self.topup_max for p in self.topup_presets):
            raise ValueError("every TOPUP_PRESETS amount must lie within TOPUP_MIN..TOPUP_MAX")
        amounts = (self.topup_min, self.topup_max, *self.topup_presets)
        if any(a != a.quantize(Decimal("0.01")) for a in amounts):
            raise ValueError("top-up amounts take at most two decimal places")
        if self.crypto_pay_token is not None:
            if self.currency.upper() not in CRYPTO_PAY_FIATS:
                raise ValueError(
                    f"Crypto Pay cannot price invoices in {self.currency}; "
                    f"it takes {', '.join(sorted(CRYPTO_PAY_FIATS))}"
                )
            if not self.crypto_pay_assets:
                raise ValueError("CRYPTO_PAY_ASSETS must name at least one asset")
        return self

    @property
    def payment_methods(self) -> list[str]:
        """The top-up methods customers are offered, in the order they see them."""
        methods = ["stars"] if self.stars_enabled else []
        return methods + (["cryptopay"] if self.crypto_pay_token is not None else [])

    @property
    def secret_key_value(self) -> str | None:
        return self.secret_key.get_secret_value() if self.secret_key else None

    @property
    def runs_replicas(self) -> bool:
        """Several processes may share the database (Redis or webhook mode: SPEC §8)."""
        return bool(self.redis_url or self.webhook_url)


def describe_error(error: ValidationError) -> str:
    """One line a person can act on, e.g. 'BOT_TOKEN: is required'."""
    parts = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]).upper() or "settings"
        message = "is required" if item["type"] == "missing" else item["msg"]
        message = message.removeprefix("Value error, ")
        parts.append(f"{field}: {message}")
    return "invalid configuration: " + "; ".join(parts)
