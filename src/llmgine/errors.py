"""The exceptions LLMgine raises.

Every error the framework raises on purpose derives from :class:`LLMgineError`,
so one ``except LLMgineError`` catches them all. Where a built-in exception
type has long been part of the contract (``ValueError`` for a duplicate handler,
``RuntimeError`` for a closed session), the error derives from it too, so older
``except`` clauses keep working::

    LLMgineError
    ├── ConfigurationError          bad settings, unusable paths
    │   ├── MissingAPIKeyError          a provider's key variable is not set
    │   ├── UnknownModelError           a model name no provider knows
    │   └── ModelRequestsBlockedError   a network model call while they are blocked (tests)
    ├── SerializationError          a message that cannot be rebuilt from its dict
    ├── ToolDefinitionError         a function that cannot become a tool (and why)
    ├── ToolCallError               raised in a tool: fail the call with this text for the model
    ├── MCPServerError              an MCP server could not be started, reached or used
    ├── EngineError                 an engine could not answer (engine functions raise it)
    ├── ConversationStoreError      the conversations file cannot be used as asked
    │   ├── ConversationNotFoundError   no conversation has that id (or the prefix is ambiguous)
    │   ├── CorruptStoreError           the file is not an LLMgine conversations database
    │   ├── NewerSchemaError            the file was written by a newer LLMgine
    │   └── StoreBusyError              another process held the file locked too long
    ├── BusError                    misuse of the message bus
    │   ├── HandlerRegistrationError    a second command handler for one type and session
    │   ├── NoCommandHandlerError       no handler for a command's type
    │   ├── SessionClosedError          registering on, or executing in, an ended session
    │   └── TransportError              the bus cannot reach other processes (Redis down)
    └── ProviderError               a model provider's call failed (provider, model, status)
        ├── ProviderAuthError           401/403: the key is wrong or lacks access
        ├── ProviderBadRequestError     400/404/422: the request or model name is wrong
        ├── ProviderRateLimitError      429 (retried)
        ├── ProviderServerError         5xx (retried)
        ├── ProviderTimeoutError        no answer in time (retried)
        ├── ProviderConnectionError     the server could not be reached (retried)
        ├── ProviderResponseError       an answer that could not be understood
        └── StructuredOutputError       no valid structured answer after the retries

Handler failures are not raised through the bus: a command handler that raises
becomes ``CommandResult(success=False)``, and an event handler that raises
becomes an ``EventHandlerFailedEvent`` (see ``MessageBus.unsuppress_event_errors``).
"""

from __future__ import annotations

__all__ = [
    "BusError",
    "ConfigurationError",
    "ConversationNotFoundError",
    "ConversationStoreError",
    "CorruptStoreError",
    "EngineError",
    "HandlerRegistrationError",
    "LLMgineError",
    "MCPServerError",
    "MissingAPIKeyError",
    "ModelRequestsBlockedError",
    "NewerSchemaError",
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
    "StoreBusyError",
    "StructuredOutputError",
    "ToolCallError",
    "ToolDefinitionError",
    "TransportError",
    "UnknownModelError",
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


class TransportError(BusError):
    """The bus cannot reach other processes (Redis unreachable when attaching a transport)."""


class MissingAPIKeyError(ConfigurationError):
    """A provider needs an API key that is not set.

    Attributes:
        variable: The environment variable to set.
        provider: The provider that needs it.
    """

    def __init__(self, variable: str, provider: str, model: str | None = None) -> None:
        self.variable = variable
        self.provider = provider
        target = f"{provider}:{model}" if model else provider
        super().__init__(
            f"{variable} is not set: {target} needs it. Export {variable}=... in your shell "
            f"or add it to a .env file in the working directory."
        )


class UnknownModelError(ConfigurationError, ValueError):
    """A model name that no provider knows."""


class ModelRequestsBlockedError(ConfigurationError):
    """A call to a real model API while such calls are blocked (the test suite blocks them)."""


class ProviderError(LLMgineError):
    """A model provider's call failed.

    Attributes:
        provider: Provider name (``"openai"``, ``"anthropic"``, ...).
        model: Model id sent to the provider.
        status: HTTP status, when there was one.
        retry_after: Seconds the provider asked to wait, if it said.
        retryable: Whether trying again may succeed.
    """

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        model: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.provider = provider
        self.model = model
        self.status = status
        self.retry_after = retry_after
        self.detail = message
        self.attempts: int | None = None
        where = f"{provider}:{model}"
        code = f" (HTTP {status})" if status is not None else ""
        super().__init__(f"{where}{code}: {message}")

    def note_attempts(self, attempts: int, waited_s: float, hint: str | None = None) -> None:
        """Say in the message how many attempts were made, over how long, and what to try.

        Called once by the model that gave up on the call.
        """
        if self.attempts is not None:
            return
        self.attempts = attempts
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        text = f"{self.args[0]} (gave up after {tries} in {waited_s:.1f} s)"
        self.args = (f"{text}; {hint}" if hint else text,)


class ProviderAuthError(ProviderError):
    """401/403: the API key is wrong, expired, or lacks access to the model."""


class ProviderBadRequestError(ProviderError):
    """400/404/422: the provider rejected the request (or does not know the model)."""


class ProviderRateLimitError(ProviderError):
    """429: too many requests or tokens; retried after a backoff."""

    retryable = True


class ProviderServerError(ProviderError):
    """5xx: the provider failed; retried after a backoff."""

    retryable = True


class ProviderTimeoutError(ProviderError):
    """The provider did not answer in time; retried after a backoff."""

    retryable = True


class ProviderConnectionError(ProviderError):
    """The provider could not be reached; retried after a backoff."""

    retryable = True


class ProviderResponseError(ProviderError):
    """The provider answered with something that could not be understood."""


class StructuredOutputError(ProviderError):
    """The model gave no answer that validates against the response model."""


class ToolDefinitionError(LLMgineError, ValueError):
    """A function cannot be registered as a tool; the message says which and how to fix it.

    Failures while a tool *runs* are not raised: they become error tool results
    the model can read.
    """


class ToolCallError(LLMgineError):
    """Raised inside a tool to fail the call with ``str(exc)`` as the text for the model.

    The ToolManager gives the message back as the call's error result as it is
    (secrets masked), without the "failed with ToolCallError" wrapping other
    exceptions get: MCP tools raise it for the server's error results,
    timeouts and crashes.
    """


class MCPServerError(LLMgineError):
    """An MCP server could not be started, reached, or understood.

    The message names the server, what was tried (the command or URL, secrets
    masked) and what to check. Failures of single *calls* are not raised: they
    become error tool results the model can read.
    """


class EngineError(LLMgineError):
    """An engine could not answer a prompt.

    Engine functions such as ``use_tool_chat_engine`` raise it with the
    engine's error message; engines on the bus return a failed
    ``CommandResult`` instead.
    """


class ConversationStoreError(LLMgineError):
    """The conversations database cannot be used as asked; the message names the file.

    Attributes:
        path: The database file.
    """

    def __init__(self, message: str, path: object = None) -> None:
        self.path = path
        super().__init__(message)


class ConversationNotFoundError(ConversationStoreError, LookupError):
    """No stored conversation has that id, or an id prefix matches several."""


class CorruptStoreError(ConversationStoreError):
    """The file is damaged or is not an LLMgine conversations database; it is left untouched."""


class NewerSchemaError(ConversationStoreError):
    """The file's schema is newer than this LLMgine knows; it is left untouched.

    Attributes:
        found: The file's schema version.
        known: The newest version this LLMgine knows.
    """

    def __init__(self, message: str, path: object, found: int, known: int) -> None:
        self.found = found
        self.known = known
        super().__init__(message, path)


class StoreBusyError(ConversationStoreError):
    """Another process kept the database locked longer than the busy timeout."""
