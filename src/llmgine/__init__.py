"""LLMgine: an event-driven framework for LLM applications."""

from llmgine import _compat, _version
from llmgine.bootstrap import ApplicationBootstrap, ApplicationConfig
from llmgine.bus import Bus, BusSession, MessageBus
from llmgine.errors import (
    BusError,
    ConfigurationError,
    HandlerRegistrationError,
    LLMgineError,
    MCPServerError,
    MissingAPIKeyError,
    ModelRequestsBlockedError,
    NoCommandHandlerError,
    ProviderAuthError,
    ProviderBadRequestError,
    ProviderConnectionError,
    ProviderError,
    ProviderRateLimitError,
    ProviderResponseError,
    ProviderServerError,
    ProviderTimeoutError,
    SerializationError,
    SessionClosedError,
    StructuredOutputError,
    ToolCallError,
    ToolDefinitionError,
    UnknownModelError,
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
from llmgine.models import InstrumentedModel, Model, ProviderModel, Providers, get_model, instrument
from llmgine.models.events import LLMCallEvent, LLMResponseEvent
from llmgine.models.response import (
    LLMResponse,
    RedactedThinkingPart,
    TextDelta,
    ThinkingDelta,
    ThinkingPart,
    ToolCallDelta,
    Usage,
)
from llmgine.models.retry import RetryPolicy
from llmgine.observability import (
    ConsoleEventHandler,
    FileEventHandler,
    ObservabilityEventHandler,
    OpenTelemetryEventHandler,
)
from llmgine.tools import (
    ToolApprovalCommand,
    ToolCall,
    ToolManager,
    ToolResult,
    tool,
)

__version__ = _version.__version__

__all__ = [
    # bus
    "GLOBAL",
    "ROOT",
    "Bus",
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
    # models
    "LLMCallEvent",
    "LLMResponse",
    "LLMResponseEvent",
    "InstrumentedModel",
    "Model",
    "ProviderModel",
    "Providers",
    "RedactedThinkingPart",
    "RetryPolicy",
    "TextDelta",
    "ThinkingDelta",
    "ThinkingPart",
    "ToolApprovalCommand",
    "ToolCall",
    "ToolManager",
    "ToolResult",
    "ToolCallDelta",
    "Usage",
    "get_model",
    "instrument",
    "tool",
    # application
    "ApplicationBootstrap",
    "ApplicationConfig",
    # observability
    "ConsoleEventHandler",
    "FileEventHandler",
    "OpenTelemetryEventHandler",
    "ObservabilityEventHandler",
    # errors
    "BusError",
    "ConfigurationError",
    "HandlerRegistrationError",
    "LLMgineError",
    "MCPServerError",
    "MissingAPIKeyError",
    "ModelRequestsBlockedError",
    "NoCommandHandlerError",
    "ProviderAuthError",
    "ProviderBadRequestError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderRateLimitError",
    "ProviderResponseError",
    "ProviderServerError",
    "ProviderTimeoutError",
    "SerializationError",
    "SessionClosedError",
    "StructuredOutputError",
    "ToolCallError",
    "ToolDefinitionError",
    "UnknownModelError",
    "__version__",
]

_compat.install()  # the seed's import paths, each with a DeprecationWarning
