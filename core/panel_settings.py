"""Settings the owner changes from the chat, over defaults from the environment.

Both live in `panel_settings`, so that any code path (a payment job, an admin command, another
replica) reads the same value without being handed the app's Settings: at start-up the
environment's values are stored under `env:<key>` (refreshed every start), and the owner's
choice under `<key>` wins over it until the owner changes it again.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.engine import write_tx
from db.models import PanelSetting

ENV_PREFIX = "env:"


async def _put(session: AsyncSession, key: str, value: str) -> None:
    row = await session.get(PanelSetting, key)
    if row is None:
        session.add(PanelSetting(key=key, value=value))
    elif row.value != value:
        row.value = value
    await session.flush()


async def store(session: AsyncSession, values: Mapping[str, str], *, env: bool = False) -> None:
    """Write settings in one transaction (the owner's, or with env=True the defaults)."""
    prefix = ENV_PREFIX if env else ""
    for attempt in range(2):
        try:
            async with write_tx(session):
                for key, value in values.items():
                    await _put(session, prefix + key, value)
            return
        except IntegrityError:  # another replica inserted the same key first: update it
            if attempt:
                raise


async def read(session: AsyncSession, key: str, fallback: str) -> str:
    """The owner's value, else the environment's, else `fallback`."""
    rows = dict(
        (
            await session.execute(
                select(PanelSetting.key, PanelSetting.value).where(
                    PanelSetting.key.in_([key, ENV_PREFIX + key])
                )
            )
        ).all()
    )
    return rows.get(key, rows.get(ENV_PREFIX + key, fallback))
