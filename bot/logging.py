"""Logging set-up: one line per record, and never a provider or bot token in the output."""

from __future__ import annotations

import logging
import re

_SECRET_PATTERNS = [
    re.compile(r"bot\d+:[A-Za-z0-9_-]+"),  # Bot API URLs carry the token in the path
]


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = message
        for pattern in _SECRET_PATTERNS:
            redacted = pattern.sub("bot<token>", redacted)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RedactSecrets())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
