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


def test_json_lines_carry_the_context_and_no_secret() -> None:
    """LOG_FORMAT=json: one object per line, what it is about (bound context or extra=), and
    the same redaction as the text format — message, arguments, traceback, extra fields."""
    import json

    from bot.logging import JsonFormatter
    from telemetry import context

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    redactor = RedactSecrets([TOKEN])
    redactor.add(KEY)
    handler.addFilter(redactor)
    handler.setFormatter(JsonFormatter(redactor.redact))
    logger = logging.getLogger("test.redaction.json")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)

    with context.bound(order_id=42, provider="main"):
        logger.info("sent with key %s", KEY)
        with context.bound(user_id=1001):
            try:
                raise RuntimeError(f"https://api.telegram.org/bot{TOKEN}/getMe said no ({KEY})")
            except RuntimeError:
                logger.exception("call failed")
    logger.warning("plain line", extra={"provider": f"odd-{KEY}", "order_id": 7})
    text = stream.getvalue()
    for secret in (KEY, TOKEN, TOKEN.split(":")[1], quote_plus(KEY)):
        assert secret not in text, secret
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 3
    first, second, third = lines
    assert first["message"] == f"sent with key {REDACTED}"
    assert (first["level"], first["logger"]) == ("INFO", "test.redaction.json")
    assert (first["order_id"], first["provider"]) == (42, "main") and "user_id" not in first
    assert first["time"].endswith("+00:00") and "exception" not in first
    assert (second["order_id"], second["user_id"]) == (42, 1001)
    assert "Traceback" in second["exception"] and "RuntimeError" in second["exception"]
    assert "order_id" in third and third["order_id"] == 7 and REDACTED in third["provider"]
    assert "user_id" not in third  # the context ended with its block
