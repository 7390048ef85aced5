"""`python -m bot.secrets new-key | rotate | status`: provider keys encrypted at rest.

  new-key  print a fresh Fernet key for SECRET_KEY
  rotate   encrypt every stored provider key with the first SECRET_KEY (after putting a new
           key first: SECRET_KEY=new,old), and the ones still stored in clear
  status   how many provider keys are stored in clear

Reads DATABASE_URL and SECRET_KEY like `python -m bot`; run `rotate` with the bot stopped or
running (each row is rewritten in one short transaction), then drop the old key.
"""

from __future__ import annotations

import asyncio
import sys

from bot.config import Settings, describe_error
from core.provider_accounts import clear_key_count, encrypt_stored_keys
from db.engine import create_engine, make_sessionmaker
from db.migrate import upgrade
from db.secrets import SecretKeyError, new_key

USAGE = "usage: python -m bot.secrets new-key | rotate | status"


async def _run(settings: Settings, command: str) -> str:
    await asyncio.to_thread(upgrade, settings.database_url)
    engine = create_engine(settings.database_url, secret_key=settings.secret_key_value)
    try:
        async with make_sessionmaker(engine)() as session:
            if command == "rotate":
                changed = await encrypt_stored_keys(session, rotate=True)
                return f"encrypted {changed} provider key(s) with the first SECRET_KEY"
            clear = await clear_key_count(session)
            return f"{clear} provider key(s) stored in clear"
    finally:
        await engine.dispose()


def main(argv: list[str]) -> int:
    if argv == ["new-key"]:
        print(new_key())
        return 0
    if len(argv) != 1 or argv[0] not in ("rotate", "status"):
        print(USAGE, file=sys.stderr)
        return 2
    try:
        settings = Settings()
    except ValueError as exc:
        print(describe_error(exc) if hasattr(exc, "errors") else str(exc), file=sys.stderr)
        return 2
    try:
        print(asyncio.run(_run(settings, argv[0])))
    except SecretKeyError as exc:
        print(f"SECRET_KEY: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
