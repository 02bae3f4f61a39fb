"""Message types: commands, results and events, with their dict round trip."""

from llmgine.messages.base import GLOBAL, ROOT, Message, message_class
from llmgine.messages.commands import Command, CommandResult
from llmgine.messages.events import (
    CommandResultEvent,
    CommandStartedEvent,
    Event,
    EventHandlerFailedEvent,
    ScheduledEvent,
    SessionEndEvent,
    SessionEvent,
    SessionStartEvent,
    StreamDeltaEvent,
)

__all__ = [
    "GLOBAL",
    "ROOT",
    "Command",
    "CommandResult",
    "CommandResultEvent",
    "CommandStartedEvent",
    "Event",
    "EventHandlerFailedEvent",
    "Message",
    "ScheduledEvent",
    "SessionEndEvent",
    "SessionEvent",
    "SessionStartEvent",
    "StreamDeltaEvent",
    "message_class",
]
