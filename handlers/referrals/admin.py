"""/referrers: the owner's referral terms and the top referrers; changes the terms."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from core import referrals
from handlers.referrals.views import owner_text, saved_text, usage_text

SWITCH = {"on": True, "yes": True, "off": False, "no": False}


async def referrers_command(
    message: Message, command: CommandObject, session: AsyncSession, currency: str
) -> None:
    args = (command.args or "").lower().split()
    saved = ""
    if args:
        if (
            len(args) == 2
            and args[0] == "percent"
            and ((percent := referrals.parse_percent(args[1])) is not None)
        ):
            await referrals.set_terms(session, percent=percent)
        elif len(args) == 2 and args[0] == "admintopups" and args[1] in SWITCH:
            await referrals.set_terms(session, admin_topups=SWITCH[args[1]])
        else:
            await message.answer(usage_text())
            return
        saved = saved_text() + "\n\n"
    terms = await referrals.terms(session)
    top = await referrals.top_referrers(session)
    await message.answer(saved + owner_text(terms, top, currency))


def create_router() -> Router:
    """Mounted under the admin console's router (ADMIN_IDS only)."""
    router = Router(name="admin.referrals")
    router.message.register(referrers_command, Command("referrers"))
    return router
