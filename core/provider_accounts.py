"""Provider accounts as admins manage them: connect (key checked first), switch, threshold."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Text, case, func, select, type_coerce, union, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import fx
from core.audit import audit
from core.errors import Refusal
from core.money import in_range
from db.engine import write_tx
from db.models import Provider, Service, ServiceMapping
from db.secrets import SecretKeyError, is_encrypted, keyring_of
from db.types import utcnow
from providers import Balance, ProviderError, ProviderRegistry, mask_secret, valid_api_url

NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class ProviderAccountError(Refusal):
    """A refused provider-account change; `code` picks the message the admin sees."""


async def find_provider(session: AsyncSession, name: str) -> Provider | None:
    """The provider called `name` (case and surrounding spaces ignored), if any."""
    return await session.scalar(
        select(Provider).where(func.lower(Provider.name) == name.strip().lower())
    )


def provider_snapshot(provider: Provider) -> dict[str, Any]:
    return {
        "name": provider.name,
        "api_url": provider.api_url,
        "api_key": mask_secret(provider.api_key),
        "enabled": provider.enabled,
        "threshold": str(provider.low_balance_threshold),
        "rate": provider.rate_per_second,
        "concurrency": provider.concurrency,
        "fx_rate": None if provider.fx_rate is None else str(provider.fx_rate),
    }


# --- providers ------------------------------------------------------------------------------


@dataclass
class ConnectResult:
    provider: Provider | None  # None: not saved (a new provider whose check failed)
    created: bool
    balance: Balance | None
    error: ProviderError | None


async def stored_api_keys(session: AsyncSession) -> list[str]:
    """Every provider key in the database (for the log redactor).

    SecretKeyError if they are encrypted and SECRET_KEY is missing or not their key.
    """
    return list(await session.scalars(select(Provider.api_key)))


async def provider_names(session: AsyncSession) -> list[tuple[int, str]]:
    """(id, name) of every provider: what metrics label their orders with."""
    return [(int(i), str(n)) for i, n in await session.execute(select(Provider.id, Provider.name))]


async def clear_key_count(session: AsyncSession) -> int:
    """How many provider keys are stored in clear (all of them without SECRET_KEY)."""
    stored = await session.scalars(select(type_coerce(Provider.api_key, Text)))
    return sum(1 for value in stored if not is_encrypted(value))


async def encrypt_stored_keys(session: AsyncSession, *, rotate: bool = False) -> int:
    """Encrypt the keys stored in clear with the engine's SECRET_KEY; with `rotate`, encrypt
    every key again with its first key. Returns how many rows were rewritten."""
    keyring = keyring_of(session.bind.dialect)
    if keyring is None:
        raise SecretKeyError("SECRET_KEY is not set")
    raw = type_coerce(Provider.api_key, Text)
    changed = 0
    async with write_tx(session):
        rows = (await session.execute(select(Provider.id, raw).with_for_update())).all()
        for provider_id, stored in rows:
            if is_encrypted(stored) and not rotate:
                continue
            # An encrypted value passes the column type unchanged (see EncryptedText).
            await session.execute(
                update(Provider)
                .where(Provider.id == provider_id)
                .values(api_key=keyring.rotate(stored))
            )
            changed += 1
    return changed


def store_balance(provider: Provider, balance: Balance) -> None:
    """A balance answer on the provider's row. Beyond the money range it is kept unknown
    instead of failing the write; an answer without a currency keeps the one known."""
    provider.balance = balance.amount if in_range(balance.amount) else None
    provider.currency = balance.currency or provider.currency
    provider.balance_checked_at = utcnow()


async def connect_provider(
    session: AsyncSession,
    registry: ProviderRegistry,
    name: str,
    api_url: str,
    api_key: str,
    *,
    admin_id: int,
    threshold: Decimal | None = None,
) -> ConnectResult:
    """Check the key with a balance call first; save (or update) the provider only if it works.

    A failing check saves nothing: a new provider is not created, an existing one keeps its
    current URL and key (so a typo cannot break a working provider).
    """
    if not NAME_RE.match(name):
        raise ProviderAccountError("bad_name", name=name)
    if not valid_api_url(api_url):
        raise ProviderAccountError("bad_url", url=api_url)
    if threshold is not None and threshold < 0:
        raise ProviderAccountError("bad_threshold")
    if session.in_transaction():
        await session.commit()  # no transaction held over the provider call
    client = registry.make_client(api_url, api_key, name)
    try:
        balance = await client.balance()
    except ProviderError as exc:
        return ConnectResult(await find_provider(session, name), False, None, exc)
    async with write_tx(session):
        provider = await find_provider(session, name)
        created = provider is None
        before = None if provider is None else provider_snapshot(provider)
        if provider is None:
            provider = Provider(name=name, api_url=api_url, api_key=api_key)
            session.add(provider)
        provider.api_url, provider.api_key = api_url.strip(), api_key.strip()
        provider.enabled = True
        provider.consecutive_failures = 0
        provider.last_error = provider.retry_after = None
        # A balance beyond the money range is kept unknown instead of failing the connect.
        provider.balance = balance.amount if in_range(balance.amount) else None
        provider.currency = balance.currency
        provider.balance_checked_at = utcnow()
        if threshold is not None:
            provider.low_balance_threshold = threshold
        await session.flush()
        audit(
            session,
            admin_id,
            "provider.connect",
            f"provider:{provider.id}",
            before,
            provider_snapshot(provider),
        )
    return ConnectResult(provider, created, balance, None)


PROVIDER_OPTIONS = ("on", "off", "threshold", "rate", "concurrency", "fx")
MAX_RATE = Decimal(100)  # requests per second; panels ban far below this
MAX_CONCURRENCY = 32


def check_pacing(option: str, value: Decimal | None) -> float | int:
    """rate: 0 < N ≤ 100 requests/s (fractions allowed: 0.5 = one every 2 s); concurrency:
    a whole number 1..32 of requests at once."""
    if option == "rate":
        if value is None or not 0 < value <= MAX_RATE:
            raise ProviderAccountError("bad_rate", max=MAX_RATE)
        return float(value)
    if value is None or value != value.to_integral_value() or not 1 <= value <= MAX_CONCURRENCY:
        raise ProviderAccountError("bad_concurrency", max=MAX_CONCURRENCY)
    return int(value)


async def set_provider_option(
    session: AsyncSession, name: str, option: str, value: Decimal | None, *, admin_id: int
) -> Provider:
    """/providerset NAME on|off|threshold AMOUNT|rate N|concurrency N|fx RATE. A new pace
    takes effect at the provider's next request, on every replica (read with the provider
    row); RATE is panel currency per one unit of the provider's (core.fx.parse_rate)."""
    if option not in PROVIDER_OPTIONS:
        raise ProviderAccountError("bad_option", option=option)
    async with write_tx(session):
        provider = await find_provider(session, name)
        if provider is None:
            raise ProviderAccountError("unknown_provider", name=name)
        before = provider_snapshot(provider)
        if option == "fx":
            if value is None or not fx.MIN_RATE <= value <= fx.MAX_RATE:
                raise ProviderAccountError("bad_fx")
            provider.fx_rate = value
        elif option == "threshold":
            if value is None or value < 0:
                raise ProviderAccountError("bad_threshold")
            provider.low_balance_threshold = value
        elif option == "rate":
            provider.rate_per_second = float(check_pacing(option, value))
        elif option == "concurrency":
            provider.concurrency = int(check_pacing(option, value))
        else:
            provider.enabled = option == "on"
            if provider.enabled:
                provider.consecutive_failures = 0
                provider.retry_after = None
        audit(
            session,
            admin_id,
            "provider.set",
            f"provider:{provider.id}",
            before,
            provider_snapshot(provider),
        )
    return provider


async def mapped_counts(session: AsyncSession) -> dict[int, tuple[int, int]]:
    """provider id -> (services mapped, of which enabled): as their first mapping or a
    backup (core.mappings), each service once per provider."""
    pairs = union(
        select(Service.id, Service.provider_id, Service.enabled).where(
            Service.provider_id.is_not(None)
        ),
        select(Service.id, ServiceMapping.provider_id, Service.enabled).join(
            ServiceMapping, ServiceMapping.service_id == Service.id
        ),
    ).subquery()
    rows = await session.execute(
        select(
            pairs.c.provider_id, func.count(), func.sum(case((pairs.c.enabled, 1), else_=0))
        ).group_by(pairs.c.provider_id)
    )
    return {pid: (total, int(enabled or 0)) for pid, total, enabled in rows}


async def search_providers(session: AsyncSession, name: str | None) -> list[Provider]:
    """Every provider by id, or only the one called `name` (none if there is no such one)."""
    if name:
        provider = await find_provider(session, name)
        return [provider] if provider is not None else []
    return list(await session.scalars(select(Provider).order_by(Provider.id)))
