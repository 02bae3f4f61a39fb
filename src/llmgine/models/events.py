"""The two facts of every model attempt: it started, it finished.

The instrumentation (:class:`~llmgine.models.instrumented.InstrumentedModel`)
sends them to the event sink it was given (an engine's bus); streamed pieces
are the engine's own events (``EngineTextDeltaEvent``, ``EngineThinkingDeltaEvent``).
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from llmgine.messages.events import Event
from llmgine.models.response import Usage
from llmgine.tools.tool_call import ToolCall

__all__ = ["LLMCallEvent", "LLMResponseEvent"]


class LLMCallEvent(Event, kw_only=True):
    """A model call is about to be sent (one per attempt).

    Attributes:
        call_id: Id shared by the attempts of one call and their responses.
        provider: Provider name.
        model: Model id.
        attempt: 1 for the first try, 2 for the first retry, ...
        stream: Whether the answer is streamed.
        messages: The messages sent (OpenAI chat format).
        tools: Names of the tools offered.
        parameters: The other request settings (temperature, ...).
    """

    call_id: str = ""
    provider: str = ""
    model: str = ""
    attempt: int = 1
    stream: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)


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
        error: A readable error when the attempt failed.
        status: HTTP status of a failed attempt, if any.
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
    error: str | None = None
    status: int | None = None
    will_retry: bool = False
