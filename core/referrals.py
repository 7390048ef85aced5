"""Referrals (SPEC §11): who invited whom, and the referrer's share of the invited customer's
top-ups.

A customer's link carries a code made from their id (`t.me/<bot>?start=r<base36 id>`). A new
customer who arrives through it is attributed once: never to themselves, never again later.
Every top-up of theirs (a payment; an admin /topup only if the owner says so) credits the
referrer the set percentage as a ledger row of its own, keyed by the top-up's own ledger key,
in the top-up's transaction: exactly once per payment, however often it is delivered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import billing, notify, panel_settings
from core.money import ZERO, round_down
from core.statuses import LedgerKind
from db.engine import write_tx
from db.models import LedgerEntry, Order, User
from db.types import utcnow

PERCENT_KEY = "referral_percent"
ADMIN_TOPUPS_KEY = "referral_admin_topups"
BONUS = "referral_bonus"  # the referrer's notification
JOINED = "referral_joined"
CODE_RE = re.compile(r"^r([0-9a-z]{1,13})$")
DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
# Only a customer this new can be attributed: someone who has used the bot for a while does
# not become somebody's referral by opening a link.
NEW_CUSTOMER = timedelta(days=1)
MAX_PERCENT = Decimal(100)


@dataclass(frozen=True)
class Terms:
    percent: Decimal
    admin_topups: bool


def env_defaults(percent: Decimal, admin_topups: bool) -> dict[str, str]:
    """The environment's referral terms, as panel_settings stores them."""
    return {PERCENT_KEY: f"{percent.normalize():f}", ADMIN_TOPUPS_KEY: "1" if admin_topups else "0"}


def referral_code(user_id: int) -> str:
    number, digits = abs(user_id), ""
    while True:
        number, rest = divmod(number, 36)
        digits = DIGITS[rest] + digits
        if number == 0:
            return "r" + digits


def parse_code(text: str | None) -> int | None:
    """The referrer's id from a /start payload, or None (bounded: at most 14 characters)."""
    found = CODE_RE.match((text or "").strip().lower())
    return int(found.group(1), 36) if found else None


def parse_percent(text: str) -> Decimal | None:
    """0–100 with at most 2 decimals ("7.5", "7,5"), else None."""
    try:
        value = Decimal(text.strip().rstrip("%").replace(",", "."))
    except (InvalidOperation, ValueError):
        return None
    if (
        not value.is_finite()
        or not ZERO <= value <= MAX_PERCENT
        or value != value.quantize(Decimal("0.01"))
    ):
        return None
    return value


async def terms(session: AsyncSession) -> Terms:
    percent = parse_percent(await panel_settings.read(session, PERCENT_KEY, "0")) or ZERO
    admin = await panel_settings.read(session, ADMIN_TOPUPS_KEY, "0")
    return Terms(percent, admin == "1")


async def set_terms(
    session: AsyncSession, *, percent: Decimal | None = None, admin_topups: bool | None = None
) -> None:
    values = {}
    if percent is not None:
        values[PERCENT_KEY] = f"{percent.normalize():f}"
    if admin_topups is not None:
        values[ADMIN_TOPUPS_KEY] = "1" if admin_topups else "0"
    await panel_settings.store(session, values)


async def attribute(session: AsyncSession, user_id: int, payload: str | None) -> int | None:
    """Attribute a new customer to the referrer in `payload`; the referrer's id, or None when
    the code is not one, is their own, or they are not new or already attributed."""
    referrer_id = parse_code(payload)
    if referrer_id is None or referrer_id == user_id:
        return None
    async with write_tx(session):
        user = await session.get(User, user_id, populate_existing=True)
        referrer = await session.get(User, referrer_id)
        if user is None or referrer is None or user.referred_by is not None:
            return None
        if referrer.referred_by == user_id or utcnow() - user.created_at > NEW_CUSTOMER:
            return None
        has_history = await session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.user_id == user_id)
        ) or await session.scalar(
            select(func.count()).select_from(Order).where(Order.user_id == user_id)
        )
        if has_history:
            return None
        attributed = await session.execute(
            update(User)
            .where(User.id == user_id, User.referred_by.is_(None))
            .values(referred_by=referrer_id, referred_at=utcnow())
        )
        if not attributed.rowcount:
            return None
        notify.enqueue(
            session,
            referrer_id,
            JOINED,
            {"name": user.first_name, "username": user.username},
            dedupe_key=f"referral:joined:{user_id}",
        )
        return referrer_id


def bonus_key(topup_key: str) -> str:
    return f"referral:{topup_key}"[:128]


async def credit_for_topup(
    session: AsyncSession,
    user_id: int,
    amount: Decimal,
    *,
    topup_key: str,
    by_admin: bool = False,
) -> LedgerEntry | None:
    """The referrer's bonus for one top-up, in the caller's (the top-up's) transaction.

    Keyed by the top-up's ledger key: the same top-up delivered again credits nothing more.
    None when there is nothing to credit (no referrer, 0 %, an admin top-up that does not
    count, a bonus below the money precision).
    """
    invited = (
        await session.execute(select(User.referred_by, User.first_name).where(User.id == user_id))
    ).one_or_none()
    if invited is None or invited.referred_by is None or amount <= 0:
        return None
    referrer_id, name = invited
    current = await terms(session)
    if by_admin and not current.admin_topups:
        return None
    bonus = round_down(amount * current.percent / 100)
    if bonus <= 0:
        return None
    key = bonus_key(topup_key)
    existing = await billing.find_entry(session, key)
    if existing is not None:
        return existing
    entry = await billing.credit(
        session, referrer_id, bonus, key=key, kind=LedgerKind.REFERRAL, note=f"user {user_id}"
    )
    notify.enqueue(
        session,
        referrer_id,
        BONUS,
        {"amount": str(bonus), "balance": str(entry.balance_after), "name": name or ""},
        dedupe_key=f"referral:bonus:{entry.id}",
    )
    return entry


@dataclass(frozen=True)
class Summary:
    invited: int
    earned: Decimal


async def summary(session: AsyncSession, user_id: int) -> Summary:
    invited = await session.scalar(select(func.count()).where(User.referred_by == user_id))
    earned = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.user_id == user_id, LedgerEntry.kind == LedgerKind.REFERRAL
        )
    )
    return Summary(int(invited or 0), Decimal(earned or 0))


@dataclass(frozen=True)
class Referrer:
    user_id: int
    name: str
    username: str | None
    invited: int
    earned: Decimal


async def top_referrers(session: AsyncSession, limit: int = 10) -> list[Referrer]:
    """By bonus earned, then by customers invited."""
    invited = (
        select(User.referred_by.label("uid"), func.count().label("n"))
        .where(User.referred_by.is_not(None))
        .group_by(User.referred_by)
        .subquery()
    )
    earned = (
        select(LedgerEntry.user_id.label("uid"), func.sum(LedgerEntry.amount).label("total"))
        .where(LedgerEntry.kind == LedgerKind.REFERRAL)
        .group_by(LedgerEntry.user_id)
        .subquery()
    )
    rows = await session.execute(
        select(
            User.id,
            User.first_name,
            User.username,
            invited.c.n,
            func.coalesce(earned.c.total, 0),
        )
        .join(invited, invited.c.uid == User.id)
        .outerjoin(earned, earned.c.uid == User.id)
        .order_by(func.coalesce(earned.c.total, 0).desc(), invited.c.n.desc(), User.id)
        .limit(limit)
    )
    return [
        Referrer(uid, name, username, int(count), Decimal(total))
        for uid, name, username, count, total in rows
    ]
