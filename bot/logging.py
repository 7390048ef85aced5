"""Logging set-up: one line per record (text, or JSON for log shippers), and never a provider
key or the bot token in the output.

Secrets are kept out at their sources (the engines hide SQL parameters, the provider client
scrubs its key from error texts, the driver loggers that print statement parameters are
quiet). RedactSecrets is the net under all of them: it knows the bot token and every provider
key the process has used, and rewrites any record — its message, its arguments, its
traceback — that still carries one.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote, quote_plus

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject

from telemetry import context

REDACTED = "<redacted>"
# Bot API URLs carry a token in the path, also one we were never told about.
_BOT_URL_TOKEN = re.compile(r"bot\d+:[A-Za-z0-9_-]+")
# Shorter strings would redact ordinary words; no real key or token is this short.
MIN_SECRET_LENGTH = 8
# Loggers that print every statement with its parameters (a provider key among them).
_QUIET = {
    "aiosqlite": logging.INFO,
    "asyncpg": logging.INFO,
    "sqlalchemy.engine": logging.WARNING,
    "sqlalchemy.pool": logging.WARNING,
    "httpx": logging.WARNING,
    "httpcore": logging.INFO,
    "hpack": logging.INFO,
    "apscheduler": logging.WARNING,
    "alembic.runtime.plugins": logging.WARNING,
}
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactSecrets(logging.Filter):
    """Rewrites records that carry a known secret. ``add`` may be called from any thread."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None
        self._formatter = logging.Formatter()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Redact this secret (and its URL-encoded forms) from now on."""
        secret = (secret or "").strip()
        forms = {secret, quote(secret, safe=""), quote_plus(secret)}
        if ":" in secret:  # a bot token: its part after the colon is the secret one
            forms.add(secret.split(":", 1)[1])
        forms = {f for f in forms if len(f) >= MIN_SECRET_LENGTH}
        with self._lock:
            if forms <= self._secrets:
                return
            self._secrets |= forms
            alternatives = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, alternatives)))

    def redact(self, text: str) -> str:
        text = _BOT_URL_TOKEN.sub("bot" + REDACTED, text)
        pattern = self._pattern
        return pattern.sub(REDACTED, text) if pattern is not None else text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: show it raw rather than lose the record
            message = f"{record.msg!r} % {record.args!r}"
        redacted = self.redact(message)
        if redacted != message or record.args:
            record.msg, record.args = redacted, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, exception (when there is one)
    and what the line is about (order_id, provider, user_id) from the task's log context or
    the call's ``extra=``. Runs after RedactSecrets has cleaned message and traceback; the
    fields it adds itself are passed through ``redact`` too."""

    def __init__(self, redact: Callable[[str], str] = lambda text: text) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = dict(context.current())
        for name in context.FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                fields[name] = value
        for name, value in fields.items():
            line[name] = value if isinstance(value, int) else self.redact(str(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.redact(self.formatException(record.exc_info))
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


class UpdateLogContext(BaseMiddleware):
    """Every line logged while an update is handled names its user (JSON logs)."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user = data.get("event_from_user")
        with context.bound(user_id=user.id if user is not None else None):
            return await handler(event, data)


def setup_logging(
    level: str, secrets: Iterable[str] = (), *, log_format: str = "text"
) -> RedactSecrets:
    """Root logging to stderr through RedactSecrets, as text lines or JSON objects; returns
    the filter so that the app can tell it every provider key it loads."""
    redactor = RedactSecrets(secrets)
    handler = logging.StreamHandler()
    handler.addFilter(redactor)
    if log_format == "json":
        handler.setFormatter(JsonFormatter(redactor.redact))
    else:
        handler.setFormatter(logging.Formatter(_FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    for name, quiet in _QUIET.items():
        logger = logging.getLogger(name)
        logger.setLevel(max(quiet, logger.getEffectiveLevel()))
    logging.captureWarnings(True)  # warnings go through the same filter
    sys.excepthook = _log_uncaught
    return redactor


def _log_uncaught(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None
) -> None:
    """A crash's traceback goes through the filter too, not straight to stderr."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, tb)
        return
    logging.getLogger("bot").critical("uncaught exception", exc_info=(kind, value, tb))
