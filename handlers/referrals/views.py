"""Referral texts (pure functions): the customer's screen, the owner's, the notifications."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiogram import html
from aiogram.utils.i18n import gettext as _

from core.money import format_money
from core.referrals import Referrer, Summary, Terms
from handlers.ui import payload_money


def percent_text(percent: Decimal) -> str:
    return f"{percent.normalize():f}%"


def link_for(username: str | None, code: str) -> str:
    if username:
        return f"https://t.me/{username}?start={code}"
    return f"/start {code}"


def referrals_text(link: str, summary: Summary, terms: Terms, currency: str) -> str:
    lines = [
        _("👥 <b>Referrals</b>"),
        _(
            "Invite friends with your link: you get {percent} of every top-up they make, "
            "on your balance, for as long as they use the bot."
        ).format(percent=percent_text(terms.percent)),
        "",
        _("Your link: {link}").format(link=html.quote(link)),
        _("Invited: {count} · Earned: {earned}").format(
            count=summary.invited, earned=format_money(summary.earned, currency)
        ),
    ]
    return "\n".join(lines)


def owner_text(terms: Terms, top: list[Referrer], currency: str) -> str:
    counts = _("yes") if terms.admin_topups else _("no")
    lines = [
        _("👥 <b>Referrals</b>"),
        _("Bonus: {percent} of each top-up of an invited customer.").format(
            percent=percent_text(terms.percent)
        ),
        _("Admin /topup counts: {answer}").format(answer=counts),
        "",
        _("/referrers percent 7.5 · /referrers admintopups on|off"),
        "",
    ]
    if not top:
        lines.append(_("Nobody has invited anyone yet."))
    else:
        lines.append(_("<b>Top referrers</b>"))
        for n, row in enumerate(top, 1):
            who = html.quote(row.name or str(row.user_id))
            if row.username:
                who += f" (@{html.quote(row.username)})"
            lines.append(
                _("{n}. {who}, id {id}: {invited} invited, {earned} earned").format(
                    n=n,
                    who=who,
                    id=row.user_id,
                    invited=row.invited,
                    earned=format_money(row.earned, currency),
                )
            )
    return "\n".join(lines)


def usage_text() -> str:
    return _("Usage: /referrers percent PERCENT (0–100, e.g. 7.5) or /referrers admintopups on|off")


def saved_text() -> str:
    return _("✅ Saved.")


def bonus_text(payload: dict[str, Any], currency: str) -> str:
    return _(
        "🎁 Referral bonus: +{amount} from a top-up of {name}, whom you invited.\n"
        "Balance: {balance}"
    ).format(
        amount=payload_money(payload.get("amount"), currency),
        name=html.quote(str(payload.get("name") or "")),
        balance=payload_money(payload.get("balance"), currency),
    )


def joined_text(payload: dict[str, Any], currency: str) -> str:
    return _("👥 {name} joined through your link. Their top-ups now earn you a bonus.").format(
        name=html.quote(str(payload.get("name") or ""))
    )
