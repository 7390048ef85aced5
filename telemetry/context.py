"""What a log line is about: order id, provider, user id, carried by the running task.

``bound(order_id=…)`` holds for the code inside it (and the tasks it starts, which copy the
context); the JSON log format adds these fields to every line (bot/logging.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType

FIELDS = ("order_id", "provider", "user_id")
_EMPTY: Mapping[str, object] = MappingProxyType({})
_current: ContextVar[Mapping[str, object]] = ContextVar("log_fields", default=_EMPTY)


def current() -> Mapping[str, object]:
    return _current.get()


@contextmanager
def bound(**fields: object) -> Iterator[None]:
    """These fields (None ones left out) describe what runs inside."""
    values = {k: v for k, v in fields.items() if v is not None}
    token = _current.set(MappingProxyType({**_current.get(), **values}))
    try:
        yield
    finally:
        _current.reset(token)
