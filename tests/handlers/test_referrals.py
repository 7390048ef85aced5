"""Referrals through the real Dispatcher: attribution once, the bonus once per top-up (also
when the same top-up arrives twice), the screen, and the owner's settings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update

from core import referrals
from core.admin_actions import topup
from core.statuses import LedgerKind
from db.engine import write_tx
from db.models import LedgerEntry, Notification, User
from db.types import utcnow
from tests.harness.dispatcher import TgChat
from tests.harness.ledger import balance
from tests.harness.seed import order as seed_order
from tests.harness.settings import ADMIN_ID

if TYPE_CHECKING:
    from bot.app import App

ALICE, BOB, CAROL = 1001, 1002, 1003


async def referred_by(app: App, user_id: int) -> int | None:
    async with app.sessionmaker() as session:
        return await session.scalar(select(User.referred_by).where(User.id == user_id))


async def bonus_rows(app: App) -> list[LedgerEntry]:
    async with app.sessionmaker() as session:
        rows = await session.scalars(
            select(LedgerEntry).where(LedgerEntry.kind == LedgerKind.REFERRAL)
        )
        return list(rows)


def test_codes_round_trip_and_are_bounded() -> None:
    for user_id in (1, 1001, 7_999_999_999, 2**52):
        assert referrals.parse_code(referrals.referral_code(user_id)) == user_id
    for bad in ("", "r", "x123", "r" + "z" * 14, "r12-3", "123", None):
        assert referrals.parse_code(bad) is None
    assert referrals.parse_percent("7,5") == Decimal("7.5")
    for bad in ("-1", "101", "1.234", "nan", "inf", "abc"):
        assert referrals.parse_percent(bad) is None


async def test_attributed_once_never_to_themselves(app: App, chat: Callable[..., TgChat]) -> None:
    alice, bob, carol = chat(ALICE), chat(BOB, first_name="Bob"), chat(CAROL)
    await alice.send("/start")
    code = referrals.referral_code(ALICE)
    await alice.send(f"/start {code}")  # her own link
    assert await referred_by(app, ALICE) is None
    reply = await bob.send(f"/start {code}")
    assert "Hello" in reply.text
    assert await referred_by(app, BOB) == ALICE
    await bob.send(f"/start {referrals.referral_code(CAROL)}")  # never re-attributed
    assert await referred_by(app, BOB) == ALICE
    await alice.send(f"/start {referrals.referral_code(BOB)}")  # no cycle
    assert await referred_by(app, ALICE) is None
    # Carol has used the bot (an order): a link opened later does not make her a referral.
    await carol.send("/start")
    async with app.sessionmaker() as session:
        await seed_order(session, CAROL)
        await session.commit()
    await carol.send(f"/start {code}")
    assert await referred_by(app, CAROL) is None
    # Nor does a customer who has been around for more than a day.
    dave = chat(1004)
    await dave.send("/start")
    async with app.sessionmaker() as session, write_tx(session):
        await session.execute(
            update(User).where(User.id == 1004).values(created_at=utcnow() - timedelta(days=2))
        )
    await dave.send(f"/start {code}")
    assert await referred_by(app, 1004) is None
    async with app.sessionmaker() as session:
        joined = await session.scalar(
            select(func.count()).where(Notification.kind == referrals.JOINED)
        )
    assert joined == 1


async def test_admin_topups_count_only_when_the_owner_says_so(
    app: App, chat: Callable[..., TgChat]
) -> None:
    alice, bob, owner = chat(ALICE), chat(BOB, first_name="Bob"), chat(ADMIN_ID)
    await alice.send("/start")
    await bob.send(f"/start {referrals.referral_code(ALICE)}")
    await owner.send(f"/topup {BOB} 10")
    assert await bonus_rows(app) == []  # the default: admin top-ups do not count

    assert "Saved" in (await owner.send("/referrers admintopups on")).text
    reply = await owner.send("/referrers percent 7.5")
    assert "7.5% of each top-up" in reply.text
    await owner.send(f"/topup {BOB} 20")
    [bonus] = await bonus_rows(app)
    assert (bonus.user_id, bonus.amount) == (ALICE, Decimal("1.5"))
    assert await balance(app.sessionmaker, ALICE) == Decimal("1.5")
    assert await balance(app.sessionmaker, BOB) == Decimal(30)

    # The same top-up delivered twice (a replayed update, a second replica): one bonus.
    async with app.sessionmaker() as session:
        for _ in range(2):
            await topup(session, BOB, Decimal(100), admin_id=ADMIN_ID, key="admin:9001:555")
    rows = await bonus_rows(app)
    assert [r.amount for r in rows] == [Decimal("1.5"), Decimal("7.5")]
    assert await balance(app.sessionmaker, ALICE) == Decimal(9)
    # A debit is not a top-up.
    await owner.send(f"/topup {BOB} -5")
    assert len(await bonus_rows(app)) == 2

    screen = await alice.send("/referrals")
    assert f"https://t.me/test_smm_bot?start={referrals.referral_code(ALICE)}" in screen.text
    assert "Invited: 1 · Earned: 9.00 USD" in screen.text
    assert "7.5%" in screen.text
    listing = await owner.send("/referrers")
    assert "1. Alice" in listing.text and "1 invited, 9.00 USD earned" in listing.text


async def test_referrers_is_the_owners(app: App, chat: Callable[..., TgChat]) -> None:
    owner, alice = chat(ADMIN_ID), chat(ALICE)
    assert "Usage" in (await owner.send("/referrers percent 150")).text
    assert "Usage" in (await owner.send("/referrers admintopups maybe")).text
    assert "Nobody has invited anyone yet" in (await owner.send("/referrers")).text
    assert "Unknown command" in (await alice.send("/referrers percent 50")).text
    async with app.sessionmaker() as session:
        assert (await referrals.terms(session)).percent == Decimal(5)
    reply = await alice.send("/start")
    assert any("Referrals" in label for label, _ in reply.buttons())
