"""Where components below the bus send events and commands: sinks.

:class:`EventSink` takes events, :class:`CommandSink` runs commands.

Models, tools and contexts never import the bus: whoever builds them (an
engine) hands them a sink, usually its bus. Anything with these two methods
is one (``MessageBus``, ``FakeMessageBus``, a list-backed recorder in a test).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol, runtime_checkable

from llmgine.messages.base import ROOT
from llmgine.messages.commands import Command, CommandResult
from llmgine.messages.events import Event

__all__ = ["CommandSink", "EventSink"]


@runtime_checkable
class EventSink(Protocol):
    """Takes events; says beforehand whether an event would reach anyone."""

    def has_handlers(self, event_type: type[Event], session_id: str = ROOT) -> bool:
        """Whether an event of this type and session would reach anything (worth building)."""
        ...

    def publish(self, event: Event, await_processing: bool = True) -> Awaitable[None]:
        """Deliver ``event`` (awaitable)."""
        ...


@runtime_checkable
class CommandSink(Protocol):
    """Runs a command and returns its result (any bus is one)."""

    def execute(self, command: Command) -> Awaitable[CommandResult]:
        """Run ``command``'s handler; raises ``NoCommandHandlerError`` when there is none."""
        ...
