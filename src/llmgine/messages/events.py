"""Events: facts that happened, delivered to any number of handlers.

Also defines the events the bus publishes about itself.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import field
from typing import Any

from llmgine.messages.base import Message, stamp, utcnow
from llmgine.messages.commands import Command, CommandResult
from llmgine.messages.trace import new_id

__all__ = [
    "CommandResultEvent",
    "CommandStartedEvent",
    "Event",
    "EventHandlerFailedEvent",
    "ScheduledEvent",
    "SessionEndEvent",
    "SessionEvent",
    "SessionStartEvent",
    "StreamDeltaEvent",
]


class Event(Message, kw_only=True):
    """Base class of every event.

    Subclass it and add fields; the subclass becomes a dataclass by itself::

        class Pong(Event):
            msg: str = "pong!"

    Attributes:
        event_id: Unique id of this event.
        timestamp: When the event was created (UTC).
        session_id: The session it belongs to; ``"ROOT"`` when none.
        metadata: Free-form data; ``emitted_from`` records where it was created.
        parent_id: Id of the message being handled when this one was created.
        trace_id: Shared by every message caused by one top-level message.
    """

    event_id: str = field(default_factory=new_id)
    timestamp: _dt.datetime = field(default_factory=utcnow)
    session_id: str = "ROOT"
    metadata: dict[str, Any] = field(default_factory=dict)
    parent_id: str | None = None
    trace_id: str | None = None

    def __post_init__(self) -> None:
        stamp(self, self.event_id)

    @property
    def message_id(self) -> str:
        """This event's id."""
        return self.event_id


class ScheduledEvent(Event, kw_only=True):
    """An event delivered at ``scheduled_time``, not before.

    ``scheduled_time`` may be timezone-aware or naive (read as local time).
    Scheduled events that have not fired when the bus stops are saved and
    delivered after the next ``start()``.
    """

    scheduled_time: _dt.datetime = field(default_factory=utcnow)


class StreamDeltaEvent(Event, kw_only=True):
    """Base of the events that carry one piece of a streamed text.

    The consecutive pieces of one stream (same class, session, trace and
    parent) join into its whole text. A log may move text between them (to
    mask a secret split over two pieces) but keeps what they join into.

    Attributes:
        text: The new piece of text.
    """

    text: str = ""


class EventHandlerFailedEvent(Event, kw_only=True):
    """Published when an event handler raised.

    Attributes:
        event: The event whose handler failed.
        handler: Qualified name of the handler.
        exception: The exception it raised (a string once serialised).
    """

    event: Event | None = None
    handler: str | None = None
    exception: BaseException | None = None


class CommandStartedEvent(Event, kw_only=True):
    """Published when the bus starts executing a command."""

    command: Command | None = None


class CommandResultEvent(Event, kw_only=True):
    """Published when a command has finished, with its result (success or failure)."""

    command_result: CommandResult | None = None


class SessionEvent(Event, kw_only=True):
    """Base of the events that mark a session's life."""


class SessionStartEvent(SessionEvent, kw_only=True):
    """Published when a session is entered."""


class SessionEndEvent(SessionEvent, kw_only=True):
    """Published when a session is left, with the error if its block raised."""

    error: BaseException | None = None
