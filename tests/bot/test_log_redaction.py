"""RedactSecrets: a known secret never leaves a record — message, arguments or traceback."""

from __future__ import annotations

import io
import logging
from urllib.parse import quote_plus

import pytest

from bot.logging import REDACTED, RedactSecrets

KEY = "sk-live-ab+cd/ef==0123456789"
TOKEN = "123456:AAE-secret_token_part_0123456789"


@pytest.fixture
def logged() -> tuple[logging.Logger, io.StringIO, RedactSecrets]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    redactor = RedactSecrets([TOKEN])
    handler.addFilter(redactor)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test.redaction")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream, redactor


def test_messages_arguments_and_tracebacks_are_redacted(logged) -> None:  # type: ignore[no-untyped-def]
    logger, stream, redactor = logged
    redactor.add(KEY)
    logger.info("key in the message %s", KEY)
    logger.debug("in arguments: %r %s", {"key": KEY}, ("params", quote_plus(KEY)))
    logger.warning(f"url https://api.telegram.org/bot{TOKEN}/getMe and {TOKEN.split(':')[1]}")
    try:
        raise RuntimeError(f"INSERT ... parameters: ('main', '{KEY}')")
    except RuntimeError:
        logger.exception("write failed")
    logger.info("bare token of another bot: https://x/bot999:ZZZZZZZZZZZZZ/send")
    text = stream.getvalue()
    for secret in (KEY, quote_plus(KEY), TOKEN, TOKEN.split(":")[1], "999:ZZZZZZZZZZZZZ"):
        assert secret not in text, secret
    assert text.count(REDACTED) >= 6
    assert "Traceback" in text and "RuntimeError" in text  # the rest of it stays readable


def test_a_key_added_later_is_redacted_from_then_on(logged) -> None:  # type: ignore[no-untyped-def]
    logger, stream, redactor = logged
    logger.info("no secrets yet: %s", "ordinary text")
    redactor.add("short")  # too short to be a key: would redact ordinary words
    redactor.add(KEY)
    logger.info("now %s", KEY)
    assert "ordinary text" in stream.getvalue() and "short" not in stream.getvalue().split()[-1]
    assert KEY not in stream.getvalue()
