"""The two facts of every model attempt: it started, it finished.

The instrumentation (:class:`~llmgine.models.instrumented.InstrumentedModel`)
sends them to the event sink it was given (an engine's bus); streamed pieces
are the engine's own events (``EngineTextDeltaEvent``, ``EngineThinkingDeltaEvent``).
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from llmgine.messages.events import Event
from llmgine.models.response import ThinkingBlock, Usage
from llmgine.tools.tool_call import ToolCall

__all__ = ["LLMCallEvent", "LLMResponseEvent"]


class LLMCallEvent(Event, kw_only=True):
    """A model call is about to be sent (one per attempt); the parent of its response.

    The log holds every request whole, without copying the conversation into
    every call: ``messages`` are the ones this call adds to an earlier call's
    (``prefix_call_id``, whose first ``prefix_messages`` messages come first),
    so a log grows with the conversation, not with its square. Readers put
    the request back together (:meth:`llmgine.observability.journal.Journal.request_messages`).

    Attributes:
        call_id: Id shared by the attempts of one call and their responses.
        provider: Provider name.
        model: Model id.
        attempt: 1 for the first try, 2 for the first retry, ...
        stream: Whether the answer is streamed.
        messages: The messages sent after the prefix (all of them without one).
        prefix_call_id: The earlier call (of this model) whose messages come first.
        prefix_messages: How many of that call's messages come first.
        tools: Names of the tools offered.
        tool_schemas: The tools' schemas; None when they are the prefix call's.
        parameters: The other request settings (temperature, ...).
        response_schema: The JSON schema of a structured answer, if one is asked for.
        request_hash: The request's identity (:func:`~llmgine.models.request.request_hash`),
            taken before anything is redacted.
        call_seq: The call's number in this process (1, 2, ...): the order calls were made.
    """

    call_id: str = ""
    provider: str = ""
    model: str = ""
    attempt: int = 1
    stream: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)
    prefix_call_id: str | None = None
    prefix_messages: int = 0
    tools: list[str] = field(default_factory=list)
    tool_schemas: list[dict[str, Any]] | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    response_schema: dict[str, Any] | None = None
    request_hash: str = ""
    call_seq: int = 0


class LLMResponseEvent(Event, kw_only=True):
    """A model call finished, successfully or not (one per attempt).

    Attributes:
        call_id: Id of the call (see :class:`LLMCallEvent`).
        provider: Provider name.
        model: Model id.
        attempt: Which try this was.
        duration_s: Seconds from sending to the complete answer (or the error).
        content: The answer text.
        tool_calls: Tool calls the model asked for.
        finish_reason: Why it stopped.
        usage: Token counts.
        cost_usd: Price, when known.
        thinking: The text of the model's thinking, when it showed any.
        thinking_blocks: The thinking blocks themselves, signatures included.
        validation_retries: A structured call's answers that did not validate,
            each ``{"content": ..., "error": ...}`` (the repair round trips).
        error: A readable error when the attempt failed.
        error_type: The error's class (``ProviderRateLimitError``...).
        status: HTTP status of a failed attempt, if any.
        retry_after: Seconds the provider asked to wait, if it did.
        will_retry: True when the failure will be retried.
    """

    call_id: str = ""
    provider: str = ""
    model: str = ""
    attempt: int = 1
    duration_s: float = 0.0
    content: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None
    cost_usd: float | None = None
    thinking: str | None = None
    thinking_blocks: list[ThinkingBlock] = field(default_factory=list)
    validation_retries: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None
    error_type: str | None = None
    status: int | None = None
    retry_after: float | None = None
    will_retry: bool = False
