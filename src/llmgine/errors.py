"""The exceptions LLMgine raises.

Every error the framework raises on purpose derives from :class:`LLMgineError`,
so one ``except LLMgineError`` catches them all. Where a built-in exception
type has long been part of the contract (``ValueError`` for a duplicate handler,
``RuntimeError`` for a closed session), the error derives from it too, so older
``except`` clauses keep working::

    LLMgineError
    ├── ConfigurationError          bad settings, missing keys, unusable paths
    ├── SerializationError          a message that cannot be rebuilt from its dict
    └── BusError                    misuse of the message bus
        ├── HandlerRegistrationError    a second command handler for one type and session
        ├── NoCommandHandlerError       no handler for a command's type
        └── SessionClosedError          registering on, or executing in, an ended session

Handler failures are not raised through the bus: a command handler that raises
becomes ``CommandResult(success=False)``, and an event handler that raises
becomes an ``EventHandlerFailedEvent`` (see ``MessageBus.unsuppress_event_errors``).
"""

from __future__ import annotations

__all__ = [
    "BusError",
    "ConfigurationError",
    "HandlerRegistrationError",
    "LLMgineError",
    "NoCommandHandlerError",
    "SerializationError",
    "SessionClosedError",
]


class LLMgineError(Exception):
    """Base class of every error LLMgine raises on purpose."""


class ConfigurationError(LLMgineError):
    """A setting is missing or unusable; the message says which and how to fix it."""


class SerializationError(LLMgineError, ValueError):
    """A message dict names a type that is unknown or does not fit the target class."""


class BusError(LLMgineError):
    """The message bus was used in a way it does not support."""


class HandlerRegistrationError(BusError, ValueError):
    """A command type already has a handler in that session."""


class NoCommandHandlerError(BusError, LookupError):
    """No handler is registered for a command's type (in its session or in ROOT)."""


class SessionClosedError(BusError, RuntimeError):
    """The session has ended: it no longer accepts handlers or commands."""
