"""A recording stand-in for the message bus."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from llmgine.bus.registry import HandlerRegistry
from llmgine.bus.session import BusSession
from llmgine.errors import NoCommandHandlerError
from llmgine.messages.base import ROOT
from llmgine.messages.commands import Command, CommandResult
from llmgine.messages.events import Event
from llmgine.messages.trace import current_message

__all__ = ["FakeMessageBus"]

E = TypeVar("E", bound=Event)
C = TypeVar("C", bound=Command)


async def _call(fn: Callable[..., Any], message: Any) -> Any:
    value = fn(message)
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        value = await value
    return value


class FakeMessageBus:
    """Records every published event and executed command; no queue, no scheduling.

    It satisfies the :class:`~llmgine.bus.Bus` protocol, so it can be passed
    wherever a component takes a ``bus``. Registered handlers run (sync or
    async, routed by session like the real bus). A command without a handler
    returns ``default_result`` (success) unless ``strict=True``, which raises
    ``NoCommandHandlerError`` as the real bus does.

    Attributes:
        published_events: Every event published, in order.
        executed_commands: Every command executed, in order.
    """

    _instance: FakeMessageBus | None = None

    def __init__(self, *, strict: bool = False, default_result: CommandResult | None = None):
        self.published_events: list[Event] = []
        self.executed_commands: list[Command] = []
        self.strict = strict
        self.default_result = default_result
        self._registry = HandlerRegistry()

    @classmethod
    def get_instance(cls) -> FakeMessageBus:
        """A shared instance (for code written against the seed's singleton fake)."""
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    @classmethod
    def reset_instance(cls) -> None:
        """Forget the shared instance."""
        cls._instance = None

    async def start(self) -> None:
        """Nothing to start."""

    async def stop(self) -> None:
        """Nothing to stop."""

    def clear(self) -> None:
        """Forget recorded messages (handlers stay)."""
        self.published_events.clear()
        self.executed_commands.clear()

    def create_session(self, id: str | None = None) -> BusSession:  # noqa: A002
        """A :class:`BusSession` on this fake."""
        return BusSession(id=id, bus=self)

    def register_command_handler(
        self, command_type: type[Command], handler: Callable[..., Any], session_id: str = ROOT
    ) -> None:
        """Register a command handler."""
        self._registry.add_command(command_type, handler, session_id)

    def register_event_handler(
        self, event_type: type[Event], handler: Callable[..., Any], session_id: str = ROOT
    ) -> None:
        """Register an event handler."""
        self._registry.add_event(event_type, handler, session_id)

    def unregister_session_handlers(self, session_id: str) -> int:
        """Remove a session's handlers."""
        return self._registry.remove_session(session_id)

    def has_handlers(self, event_type: type[Event], session_id: str = ROOT) -> bool:
        """Always True: the fake records every event, so every event is worth building."""
        return True

    async def execute(self, command: Command) -> CommandResult:
        """Record ``command`` and run its handler, if any."""
        handler = self._registry.command_handler(type(command), command.session_id)
        if handler is None:
            self.executed_commands.append(command)
            if self.strict:
                raise NoCommandHandlerError(
                    f"no handler registered for command {type(command).__name__}"
                )
            return self.default_result or CommandResult(
                success=True, command_id=command.command_id, session_id=command.session_id
            )
        return await self.run_handler(command, handler.fn)

    async def run_handler(self, command: Command, handler: Callable[..., Any]) -> CommandResult:
        """Record ``command`` and run ``handler`` for it (its trace is the command's)."""
        self.executed_commands.append(command)
        token = current_message.set((command.command_id, command.trace_id, command.session_id))  # type: ignore[arg-type]
        try:
            value = await _call(handler, command)
        finally:
            current_message.reset(token)
        if isinstance(value, CommandResult):
            return value
        return CommandResult(success=True, result=value, command_id=command.command_id)

    async def publish(self, event: Event, await_processing: bool = True) -> None:
        """Record ``event`` and run its handlers."""
        self.published_events.append(event)
        for handler in self._registry.event_handlers(type(event), event.session_id):
            await _call(handler.fn, event)

    def publish_nowait(self, event: Event) -> None:
        """Record ``event`` (handlers are not run: there is nothing to await them)."""
        self.published_events.append(event)

    def events_of_type(self, event_type: type[E]) -> list[E]:
        """Published events that are instances of ``event_type``."""
        return [e for e in self.published_events if isinstance(e, event_type)]

    def commands_of_type(self, command_type: type[C]) -> list[C]:
        """Executed commands that are instances of ``command_type``."""
        return [c for c in self.executed_commands if isinstance(c, command_type)]
