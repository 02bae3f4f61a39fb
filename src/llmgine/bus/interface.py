"""What components need of a message bus: the :class:`Bus` protocol.

Engines, the tool manager and the CLI take a ``bus`` argument typed with it
(default: the :class:`~llmgine.bus.MessageBus` singleton), so a test can hand
them :class:`~llmgine.testing.FakeMessageBus`, or an application a bus of its
own. Both satisfy it structurally; neither inherits from it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

from llmgine.messages.base import ROOT
from llmgine.messages.commands import Command, CommandResult
from llmgine.messages.events import Event
from llmgine.messages.sink import EventSink

__all__ = ["Bus", "default_bus", "set_default_bus"]


@runtime_checkable
class Bus(EventSink, Protocol):
    """The calls a component makes on the bus it was given (an :class:`EventSink` too)."""

    def register_command_handler(
        self, command_type: type[Command], handler: Callable[..., Any], session_id: str = ROOT
    ) -> None:
        """Handle ``command_type`` in ``session_id`` (one handler per type and session)."""
        ...

    def register_event_handler(
        self, event_type: type[Event], handler: Callable[..., Any], session_id: str = ROOT
    ) -> None:
        """Handle events of ``event_type`` (and its subclasses) in ``session_id``."""
        ...

    def unregister_session_handlers(self, session_id: str) -> int:
        """Remove every handler of ``session_id``; return how many there were."""
        ...

    def execute(self, command: Command) -> Awaitable[CommandResult]:
        """Run the command's handler and return its result."""
        ...

    def run_handler(
        self, command: Command, handler: Callable[[Any], Any]
    ) -> Awaitable[CommandResult]:
        """Run ``handler`` for ``command`` as a registered handler is run (trace, events)."""
        ...

    def publish_nowait(self, event: Event) -> None:
        """Queue ``event`` from synchronous code."""
        ...


_default: Callable[[], Bus] | None = None


def set_default_bus(factory: Callable[[], Bus]) -> None:
    """Name what :func:`default_bus` returns (``llmgine.bus.bus`` names its singleton)."""
    global _default
    _default = factory


def default_bus() -> Bus:
    """The bus components use when none is given: the ``MessageBus`` singleton.

    Raises:
        BusError: no bus has been set up (``llmgine.bus`` was not imported).
    """
    if _default is None:
        from llmgine.errors import BusError

        raise BusError("no default bus: import llmgine.bus (or pass bus=...)")
    return _default()
