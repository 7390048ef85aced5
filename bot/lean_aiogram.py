"""aiogram's pydantic validators are built on first use instead of at import.

At import, ``aiogram/types/__init__.py`` calls ``model_rebuild(_types_namespace=...)`` on every
Bot API type (~400), which builds each type's complete validator with every nested type inside
it: ~110 MB and ~2.5 s of CPU before the bot does anything, nearly all for types a panel never sees.
The models already ask pydantic to defer (``defer_build=True``); only that loop forces them.

``install()`` imports aiogram while that loop's calls are held back: the types namespace they
pass (every type by name, for the forward references) is kept as each aiogram model's
``__pydantic_parent_namespace__`` (ahead of the class's own module), the namespace pydantic
itself reads when it rebuilds an incomplete model on its first use (its placeholder validator
calls ``model_rebuild()``). So a type is built, with the same namespace, when something first
validates or serializes it. ``import aiogram``: ~58 MB and ~0.8 s of CPU instead of ~169 MB.

It fails safe: when aiogram or pydantic does not look the way this expects (aiogram already
imported, another ``model_rebuild`` signature, no namespace passed, no lazy placeholders),
aiogram is imported the stock way, or the held-back models are built eagerly as aiogram would
have, and the reason is logged at debug level.

Every package that imports aiogram imports ``bot`` first (whose ``__init__`` calls this), so
the hook is in place before any aiogram import: bot, handlers, scheduler, bench and tests.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import sys
from collections import ChainMap
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

log = logging.getLogger(__name__)

_TYPES_MODULE = "aiogram.types"
_why_eager: str | None = None  # None: lazy (or not tried yet); else why aiogram's build is stock
_tried = False


def install() -> bool:
    """Import aiogram with its validators deferred; True when they are (once per process)."""
    global _why_eager, _tried
    if not _tried:
        _tried = True
        _why_eager = _import_aiogram_lazily()
        if _why_eager:
            log.debug("%s", describe())
    return _why_eager is None


def describe() -> str:
    """How this process builds aiogram's types, for the start-up log (install() runs before
    logging is set up)."""
    if _why_eager:
        return f"aiogram's types are built eagerly at import: {_why_eager}"
    return "aiogram's types are built on first use (bot.lean_aiogram)"


def _import_aiogram_lazily() -> str | None:
    """None when aiogram is imported with its types deferred, else why it was not."""
    if _TYPES_MODULE in sys.modules:
        return "aiogram was imported before bot.lean_aiogram"
    original = BaseModel.__dict__.get("model_rebuild")
    problem = _unexpected_pydantic(original)
    if problem:
        importlib.import_module("aiogram")
        return problem
    held: list[tuple[type[BaseModel], Mapping[str, Any]]] = []

    def hold(cls: type[BaseModel], **kwargs: Any) -> bool | None:
        namespace = kwargs.get("_types_namespace")
        # Only the loop at the end of aiogram/types/__init__.py (pydantic calls it too).
        from_types_loop = sys._getframe(1).f_globals.get("__name__") == _TYPES_MODULE
        if from_types_loop and set(kwargs) == {"_types_namespace"} and namespace is not None:
            held.append((cls, namespace))
            return None
        # One frame deeper than a direct call: the caller's namespace is one further up.
        depth = kwargs.pop("_parent_namespace_depth", 2)
        kwargs["_parent_namespace_depth"] = depth + 1 if depth > 0 else depth
        return original.__func__(cls, **kwargs)  # type: ignore[union-attr, no-any-return]

    BaseModel.model_rebuild = classmethod(hold)  # type: ignore[method-assign, assignment]
    try:
        importlib.import_module("aiogram")
    finally:
        BaseModel.model_rebuild = original  # type: ignore[method-assign]
    problem = _unusable(held)
    if problem:
        for cls, namespace in held:  # what aiogram's loop would have done
            cls.model_rebuild(_types_namespace=namespace)
        return problem
    # The types namespace first, then the class's module, as aiogram's own rebuild reads them
    # (pydantic's lazy rebuild would otherwise let its caller's frame shadow the module).
    # Complete classes too: a generic's parametrization (Response[Message], made at run time)
    # builds with its origin's parent namespace.
    namespace = dict(held[0][1])
    for cls in _aiogram_models():
        module = sys.modules.get(cls.__module__)
        cls.__pydantic_parent_namespace__ = ChainMap(namespace, vars(module) if module else {})
    return None


def _unexpected_pydantic(original: Any) -> str | None:
    if not isinstance(original, classmethod):
        return "pydantic's BaseModel.model_rebuild is not a classmethod"
    parameters = inspect.signature(original.__func__).parameters
    if "_types_namespace" not in parameters:
        return "pydantic's model_rebuild takes no _types_namespace"
    if not hasattr(BaseModel, "__pydantic_parent_namespace__"):
        return "pydantic's models have no __pydantic_parent_namespace__"
    return None


def _unusable(held: list[tuple[type[BaseModel], Mapping[str, Any]]]) -> str | None:
    if not held:
        return "aiogram rebuilt no type with a types namespace"
    first = held[0][1]
    if not isinstance(first, Mapping) or any(namespace is not first for _, namespace in held):
        return "aiogram passed more than one types namespace"
    try:
        from pydantic._internal._mock_val_ser import MockValSer
    except ImportError:
        return "pydantic has no lazy placeholder validators"
    pending = [cls for cls, _ in held if not cls.__pydantic_complete__]
    placeholders = [cls.__dict__.get("__pydantic_validator__") for cls in pending]
    if not all(isinstance(validator, MockValSer) for validator in placeholders):
        return "an incomplete aiogram type has no lazy placeholder validator"
    return None


def _from_aiogram(cls: type) -> bool:
    return cls.__module__.startswith("aiogram.")


def _aiogram_models() -> list[type[BaseModel]]:
    """Every pydantic model class defined in aiogram (types, methods, the rest)."""
    seen: set[type[BaseModel]] = set()
    stack = list(BaseModel.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.add(cls)
        stack.extend(cls.__subclasses__())
    return [cls for cls in seen if _from_aiogram(cls)]
