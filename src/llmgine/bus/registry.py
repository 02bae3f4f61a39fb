"""Handler tables of the bus, with lookups cached per (message type, session)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

from llmgine.errors import HandlerRegistrationError
from llmgine.messages.base import GLOBAL, ROOT
from llmgine.messages.commands import Command
from llmgine.messages.events import CommandResultEvent, CommandStartedEvent, Event

__all__ = ["Handler", "HandlerRegistry", "handler_name", "is_async_callable"]

_CACHE_LIMIT = 4096


def is_async_callable(fn: Any) -> bool:
    """True for coroutine functions, partials of them and objects with an async ``__call__``."""
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - callable objects
    return call is not None and inspect.iscoroutinefunction(call)


def handler_name(fn: Any) -> str:
    """Return a readable, qualified name for a handler."""
    target = getattr(fn, "func", fn)  # functools.partial
    module = getattr(target, "__module__", None) or type(target).__module__
    name = getattr(target, "__qualname__", None) or type(target).__qualname__
    return f"{module}.{name}"


class Handler(NamedTuple):
    """A registered handler: the callable and whether it must be awaited."""

    fn: Callable[..., Any]
    is_async: bool


class HandlerRegistry:
    """Command and event handlers by session and message type."""

    def __init__(self) -> None:
        self.commands: dict[str, dict[type[Command], Handler]] = {}
        self.events: dict[str, dict[type[Event], list[Handler]]] = {}
        #: (event type, session id) -> handlers; cleared in place on every change.
        self.event_cache: dict[tuple[type[Event], str], tuple[Handler, ...]] = {}
        self.command_cache: dict[tuple[type[Command], str], Handler | None] = {}
        self.bus_event_cache: dict[str, tuple[tuple[Handler, ...], tuple[Handler, ...]]] = {}

    def _changed(self) -> None:
        self.event_cache.clear()
        self.command_cache.clear()
        self.bus_event_cache.clear()

    # -- registration -------------------------------------------------------

    def add_command(
        self, command_type: type[Command], fn: Callable[..., Any], session_id: str
    ) -> None:
        """Register the one handler of ``command_type`` in ``session_id``."""
        table = self.commands.setdefault(session_id, {})
        existing = table.get(command_type)
        if existing is not None:
            raise HandlerRegistrationError(
                f"{command_type.__name__} already has a handler in session {session_id!r} "
                f"({handler_name(existing.fn)}); unregister it before registering another"
            )
        table[command_type] = Handler(fn, is_async_callable(fn))
        self._changed()

    def remove_command(self, command_type: type[Command], session_id: str) -> bool:
        """Remove the handler of ``command_type`` in ``session_id``; False if there was none."""
        table = self.commands.get(session_id)
        if not table or command_type not in table:
            return False
        del table[command_type]
        if not table:
            del self.commands[session_id]
        self._changed()
        return True

    def add_event(self, event_type: type[Event], fn: Callable[..., Any], session_id: str) -> None:
        """Add a handler of ``event_type`` (and its subclasses) in ``session_id``."""
        self.events.setdefault(session_id, {}).setdefault(event_type, []).append(
            Handler(fn, is_async_callable(fn))
        )
        self._changed()

    def remove_event(
        self, event_type: type[Event], fn: Callable[..., Any] | None, session_id: str
    ) -> int:
        """Remove one handler (or all when ``fn`` is None); return how many were removed."""
        table = self.events.get(session_id)
        if not table or event_type not in table:
            return 0
        handlers = table[event_type]
        kept = [] if fn is None else [h for h in handlers if h.fn != fn]
        removed = len(handlers) - len(kept)
        if kept:
            table[event_type] = kept
        else:
            del table[event_type]
            if not table:
                del self.events[session_id]
        if removed:
            self._changed()
        return removed

    def remove_session(self, session_id: str) -> int:
        """Remove every handler of ``session_id``; return how many were removed."""
        commands = self.commands.pop(session_id, {})
        events = self.events.pop(session_id, {})
        count = len(commands) + sum(len(v) for v in events.values())
        if count:
            self._changed()
        return count

    # -- lookup -------------------------------------------------------------

    def event_handlers(self, event_type: type[Event], session_id: str) -> tuple[Handler, ...]:
        """Handlers for an event: its session's, then GLOBAL ones, most specific type first."""
        key = (event_type, session_id)
        cached = self.event_cache.get(key)
        if cached is not None:
            return cached
        found: list[Handler] = []
        sessions = (session_id,) if session_id == GLOBAL else (session_id, GLOBAL)
        for sid in sessions:
            table = self.events.get(sid)
            if not table:
                continue
            for cls in event_type.__mro__:
                handlers = table.get(cls)
                if handlers:
                    found.extend(handlers)
        result = tuple(found)
        if len(self.event_cache) >= _CACHE_LIMIT:
            self.event_cache.clear()
        self.event_cache[key] = result
        return result

    def command_event_handlers(
        self, session_id: str
    ) -> tuple[tuple[Handler, ...], tuple[Handler, ...]]:
        """Handlers of ``CommandStartedEvent`` and ``CommandResultEvent`` in a session."""
        cached = self.bus_event_cache.get(session_id)
        if cached is None:
            cached = (
                self.event_handlers(CommandStartedEvent, session_id),
                self.event_handlers(CommandResultEvent, session_id),
            )
            if len(self.bus_event_cache) >= _CACHE_LIMIT:
                self.bus_event_cache.clear()
            self.bus_event_cache[session_id] = cached
        return cached

    def command_handler(self, command_type: type[Command], session_id: str) -> Handler | None:
        """The command's handler in its session, else in ROOT (exact type, then base types)."""
        key = (command_type, session_id)
        try:
            return self.command_cache[key]
        except KeyError:
            pass
        found: Handler | None = None
        for sid in (session_id, ROOT) if session_id != ROOT else (ROOT,):
            table = self.commands.get(sid)
            if not table:
                continue
            for cls in command_type.__mro__:
                found = table.get(cls)
                if found is not None:
                    break
            if found is not None:
                break
        if len(self.command_cache) >= _CACHE_LIMIT:
            self.command_cache.clear()
        self.command_cache[key] = found
        return found
