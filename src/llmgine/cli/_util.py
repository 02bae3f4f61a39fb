"""Small helpers of the CLI.

Calling user callables that may be sync or async, with or without arguments,
and finding the handler registered for an event's class.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

__all__ = [
    "accepts_arguments",
    "call_maybe_async",
    "most_specific",
    "one_line",
    "takes_keyword",
]

T = TypeVar("T")


async def call_maybe_async(fn: Callable[..., Any], *args: Any) -> Any:
    """Call ``fn(*args)`` and await the result when it is awaitable."""
    value = fn(*args)
    if inspect.isawaitable(value):
        value = await value
    return value


def accepts_arguments(fn: Callable[..., Any], count: int = 1) -> bool:
    """True if ``fn`` can be called with ``count`` positional arguments."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins without a signature: assume it can
        return True
    try:
        signature.bind(*([None] * count))
    except TypeError:
        return False
    return True


def most_specific(table: Mapping[type, T], cls: type) -> tuple[type, T] | None:
    """The entry of ``table`` for ``cls`` or its nearest base class (None if no entry)."""
    for base in cls.__mro__:
        if base in table:
            return base, table[base]
    return None


def one_line(text: object, limit: int = 500) -> str:
    """``text`` on one line (whitespace collapsed), cut to ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def takes_keyword(factory: Callable[..., Any], name: str) -> bool:
    """True if ``factory`` accepts the keyword argument ``name``."""
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        parameter.name == name or parameter.kind is inspect.Parameter.VAR_KEYWORD
        for parameter in parameters
    )
