"""Keeps aiogram's ``Response[T]`` classes alive for the life of the process.

aiogram validates every Bot API answer with ``Response[method.__returning__]``. pydantic
keeps parametrized generic classes only weakly, so after a garbage collection the next call
builds the class again (a full pydantic model build, several ms each, several per update
under load). Holding one strong reference per method's return type ends that.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import methods
from aiogram.methods.base import Response, TelegramMethod

log = logging.getLogger(__name__)

_KEPT: dict[Any, type[Any]] = {}


def keep_response_types() -> int:
    """Builds Response[T] for every Bot API method once and keeps it; returns how many."""
    if _KEPT:
        return len(_KEPT)
    for name in methods.__all__:
        method = getattr(methods, name, None)
        if not (isinstance(method, type) and issubclass(method, TelegramMethod)):
            continue
        returning = getattr(method, "__returning__", None)
        if returning is None or returning in _KEPT:
            continue
        try:
            _KEPT[returning] = Response[returning]  # type: ignore[valid-type]
        except Exception:  # a return type pydantic cannot parametrize: left as it was
            log.debug("Response[%r] not kept", returning)
    return len(_KEPT)
