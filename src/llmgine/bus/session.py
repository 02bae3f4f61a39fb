"""Sessions: a scope for handlers that are removed together when it ends."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from llmgine.bus.interface import Bus, default_bus
from llmgine.errors import SessionClosedError
from llmgine.messages.commands import Command, CommandResult
from llmgine.messages.events import Event, SessionEndEvent, SessionEvent, SessionStartEvent
from llmgine.messages.trace import new_id

__all__ = ["BusSession", "SessionEndEvent", "SessionEvent", "SessionStartEvent"]


class BusSession:
    """A group of handlers and messages sharing one ``session_id``.

    Use it as ``async with bus.create_session() as session:`` (or plain
    ``with``). Entering publishes :class:`SessionStartEvent`; leaving publishes
    :class:`SessionEndEvent` (with the error, if the block raised) and then
    unregisters every handler of the session. Events of this session reach only
    this session's handlers and GLOBAL ones.

    With plain ``with`` the start and end events cannot be awaited: they are
    queued and delivered, in order, by the started bus or the next awaited
    publish. The session's handlers are removed at once on leaving, so there
    only GLOBAL (and no session) handlers see its ``SessionEndEvent``.
    """

    def __init__(self, id: str | None = None, bus: Bus | None = None) -> None:  # noqa: A002
        if bus is None:
            bus = default_bus()
        self.session_id: str = id or new_id()
        self.start_time = time.time()
        self.bus = bus
        self._active = True

    @property
    def active(self) -> bool:
        """False once the session has ended."""
        return self._active

    def _check_active(self) -> None:
        if not self._active:
            raise SessionClosedError(
                f"session {self.session_id!r} has ended; create a new session with "
                "bus.create_session()"
            )

    async def __aenter__(self) -> BusSession:
        self._check_active()
        if self.bus.has_handlers(SessionStartEvent, self.session_id):
            await self.bus.publish(SessionStartEvent(session_id=self.session_id))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.end(exc_value)

    def __enter__(self) -> BusSession:
        self._check_active()
        self.bus.publish_nowait(SessionStartEvent(session_id=self.session_id))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self._active:
            return
        self._active = False
        self.bus.publish_nowait(SessionEndEvent(session_id=self.session_id, error=exc_value))
        self.bus.unregister_session_handlers(self.session_id)

    async def end(self, error: BaseException | None = None) -> None:
        """End the session now: publish :class:`SessionEndEvent`, drop its handlers."""
        if not self._active:
            return
        self._active = False
        try:
            await self.bus.publish(SessionEndEvent(session_id=self.session_id, error=error))
        finally:
            self.bus.unregister_session_handlers(self.session_id)

    def register_event_handler(
        self, event_type: type[Event], handler: Callable[..., Any]
    ) -> BusSession:
        """Handle ``event_type`` events of this session until it ends.

        Raises:
            SessionClosedError: the session has ended.
        """
        self._check_active()
        self.bus.register_event_handler(event_type, handler, session_id=self.session_id)
        return self

    def register_command_handler(
        self, command_type: type[Command], handler: Callable[..., Any]
    ) -> BusSession:
        """Handle ``command_type`` commands of this session until it ends.

        Raises:
            SessionClosedError: the session has ended.
            HandlerRegistrationError: the type already has a handler here.
        """
        self._check_active()
        self.bus.register_command_handler(command_type, handler, session_id=self.session_id)
        return self

    async def execute_with_session(self, command: Command) -> CommandResult:
        """Execute ``command`` in this session (its ``session_id`` is set to this one)."""
        self._check_active()
        command.session_id = self.session_id
        return await self.bus.execute(command)

    async def publish(self, event: Event, await_processing: bool = True) -> None:
        """Publish ``event`` in this session (its ``session_id`` is set to this one)."""
        self._check_active()
        event.session_id = self.session_id
        await self.bus.publish(event, await_processing=await_processing)

    def __repr__(self) -> str:
        state = "active" if self._active else "ended"
        return f"BusSession({self.session_id!r}, {state})"
