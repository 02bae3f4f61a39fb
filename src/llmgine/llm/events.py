"""Events models publish on the bus for every call, response and streamed piece."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from llmgine.llm.response import Usage
from llmgine.messages.events import Event
from llmgine.tools.tool_call import ToolCall

__all__ = ["LLMCallEvent", "LLMResponseEvent", "LLMStreamEvent"]


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


class LLMStreamEvent(Event, kw_only=True):
    """A piece of a streamed answer, for UIs that render tokens as they arrive.

    Attributes:
        call_id: Id of the call.
        provider: Provider name.
        model: Model id.
        text: New answer text (empty for tool-call and thinking pieces).
        thinking: New thinking text (a :class:`~llmgine.llm.response.ThinkingDelta`).
        tool_call_index: Index of the tool call this piece belongs to, if any.
        tool_name: The tool's name, on a tool call's first piece.
        arguments: New characters of a tool call's JSON arguments.
    """

    call_id: str = ""
    provider: str = ""
    model: str = ""
    text: str = ""
    thinking: str = ""
    tool_call_index: int | None = None
    tool_name: str | None = None
    arguments: str = ""
