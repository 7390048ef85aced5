"""IsAdmin: the one access check of the admin console, applied at router level."""

from __future__ import annotations

from aiogram.filters import BaseFilter
from aiogram.types import CallbackQuery, Message


class IsAdmin(BaseFilter):
    """True for the ids in ADMIN_IDS (the `admin_ids` workflow data). Anyone else falls
    through to the other routers, so they get exactly what an unknown command gets."""

    async def __call__(self, event: Message | CallbackQuery, admin_ids: frozenset[int]) -> bool:
        user = event.from_user
        return user is not None and user.id in admin_ids
