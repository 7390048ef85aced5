"""`python -m bot`: settings → migrations → bot, dispatcher, scheduler → polling or webhook.

`python -m bot backup PATH` and `python -m bot check-db` are the owner's maintenance
commands (bot.maintenance); `python -m bot --help` lists them.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from aiogram.exceptions import TelegramNetworkError, TelegramUnauthorizedError
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError

from bot import lean_aiogram
from bot.config import Settings, describe_error
from bot.logging import RedactSecrets, setup_logging
from db.secrets import SecretKeyError

log = logging.getLogger("bot")


class DatabaseUnavailable(Exception):
    pass


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        print(describe_error(exc), file=sys.stderr)
        raise SystemExit(2) from None


async def serve(settings: Settings, redactor: RedactSecrets) -> None:
    from bot.app import create_app, run_polling

    try:
        app = await create_app(settings, on_secret=redactor.add)
    # DBAPIError covers OperationalError/InterfaceError and what asyncpg's errors become
    # (a missing database, a refused login): all of them mean the database cannot be used.
    except (OSError, DBAPIError) as exc:
        raise DatabaseUnavailable(str(exc).splitlines()[0]) from exc
    try:
        if settings.webhook_url:
            from bot.webhook import run_webhook

            await run_webhook(app)
        else:
            await run_polling(app)
    finally:
        await app.close()


def main(argv: list[str] | None = None) -> None:
    """`argv`: the command line after `python -m bot` (none: run the bot)."""
    from bot.maintenance import parser

    args = parser().parse_args(argv or [])
    settings = load_settings()
    if args.command is not None:
        from bot.maintenance import run

        raise SystemExit(run(args, settings))
    secrets = [settings.bot_token, settings.crypto_pay_token, settings.webhook_secret]
    redactor = setup_logging(
        settings.log_level,
        [s.get_secret_value() for s in secrets if s is not None],
        log_format=settings.log_format,
    )
    log.debug("%s", lean_aiogram.describe())
    try:
        asyncio.run(serve(settings, redactor))
    except KeyboardInterrupt:
        pass
    except SecretKeyError as exc:
        print(f"SECRET_KEY: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except DatabaseUnavailable as exc:
        print(f"cannot open the database: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except TelegramUnauthorizedError:
        # Polling and webhook set-up start with a Bot API call: a revoked token ends here.
        print("BOT_TOKEN: Telegram refused this token (revoked or mistyped?)", file=sys.stderr)
        raise SystemExit(2) from None
    except TelegramNetworkError as exc:
        where = settings.telegram_api_url or "api.telegram.org"
        reason = exc.message.replace(settings.bot_token.get_secret_value(), "<BOT_TOKEN>")
        print(f"cannot reach the Telegram Bot API at {where}: {reason}", file=sys.stderr)
        raise SystemExit(2) from None
    log.info("stopped")


if __name__ == "__main__":
    main(sys.argv[1:])
