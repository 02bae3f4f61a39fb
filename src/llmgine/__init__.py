"""LLMgine: an event-driven framework for LLM applications."""

from llmgine.bootstrap import ApplicationBootstrap, ApplicationConfig
from llmgine.bus import BusSession, MessageBus
from llmgine.errors import (
    BusError,
    ConfigurationError,
    HandlerRegistrationError,
    LLMgineError,
    NoCommandHandlerError,
    SerializationError,
    SessionClosedError,
)
from llmgine.messages import (
    GLOBAL,
    ROOT,
    Command,
    CommandResult,
    CommandResultEvent,
    CommandStartedEvent,
    Event,
    EventHandlerFailedEvent,
    ScheduledEvent,
    SessionEndEvent,
    SessionStartEvent,
)
from llmgine.observability import (
    ConsoleEventHandler,
    FileEventHandler,
    ObservabilityEventHandler,
)

__version__ = "0.1.0"

__all__ = [
    # bus
    "GLOBAL",
    "ROOT",
    "BusSession",
    "MessageBus",
    # messages
    "Command",
    "CommandResult",
    "CommandResultEvent",
    "CommandStartedEvent",
    "Event",
    "EventHandlerFailedEvent",
    "ScheduledEvent",
    "SessionEndEvent",
    "SessionStartEvent",
    # application
    "ApplicationBootstrap",
    "ApplicationConfig",
    # observability
    "ConsoleEventHandler",
    "FileEventHandler",
    "ObservabilityEventHandler",
    # errors
    "BusError",
    "ConfigurationError",
    "HandlerRegistrationError",
    "LLMgineError",
    "NoCommandHandlerError",
    "SerializationError",
    "SessionClosedError",
    "__version__",
]
