"""What the bus needs of a transport to other processes: the :class:`Transport` protocol.

``await bus.attach(transport)`` bridges the in-process bus to other nodes
(:class:`llmgine.distributed.RedisTransport` is one); the bus never imports a
transport, it only calls these methods. With nothing attached the bus does
not look at them at all.

The bus calls the transport when:

* a command has no local handler (:meth:`Transport.execute`);
* an event of a shared type is published (:meth:`Transport.send_event`), or a
  scheduled one is (:meth:`Transport.schedule`);
* its command handlers change (:meth:`Transport.handlers_changed`).

The transport delivers what other nodes send through the bus's public
:meth:`~llmgine.bus.MessageBus.deliver_remote` and
:meth:`~llmgine.bus.MessageBus.execute_here`, and reads which commands this
node serves from :meth:`~llmgine.bus.MessageBus.command_routes`. It tells
this process's handlers when its connection is lost and when it is back with
a :class:`TransportStatusEvent` (never sent to other nodes).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol, runtime_checkable

from llmgine.messages.commands import Command, CommandResult
from llmgine.messages.events import Event, ScheduledEvent

__all__ = ["Transport", "TransportStatusEvent"]


class TransportStatusEvent(Event, kw_only=True):
    """The attached transport lost its connection, or has it back (this process only).

    While it is lost, remote commands wait (or fail at their ``command_timeout``)
    and shared events queue up; nothing is dropped. Published only when
    something listens.

    Attributes:
        status: ``"lost"`` or ``"recovered"``.
        transport: The transport, for a person (its URL's password masked).
        node: This process's node name.
        detail: Why, for a person: the connection error (``"lost"``).
    """

    status: str = ""
    transport: str = ""
    node: str = ""
    detail: str = ""


@runtime_checkable
class Transport(Protocol):
    """A bridge from one bus to the buses of other processes."""

    async def attach(self, bus: Any) -> None:
        """Connect and start serving ``bus`` (called once by ``bus.attach``)."""
        ...

    async def detach(self) -> None:
        """Stop serving and disconnect (called by ``bus.detach`` and ``bus.stop``)."""
        ...

    def shares(self, event_type: type[Event]) -> bool:
        """Whether events of this type cross to other processes."""
        ...

    def send_event(self, event: Event) -> None:
        """Send a locally published event of a shared type to the other nodes (no wait)."""
        ...

    def schedule(self, event: ScheduledEvent) -> None:
        """Schedule a shared event cluster-wide instead of in this process."""
        ...

    def execute(self, command: Command) -> Awaitable[CommandResult]:
        """Run a command that has no handler here on a node that has one."""
        ...

    def handlers_changed(self) -> None:
        """The bus's command handlers changed: re-read :meth:`command_routes`."""
        ...
