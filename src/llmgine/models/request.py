"""What a model is asked: :class:`LLMRequest`, independent of the wire format."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LLMRequest", "Messages", "build_request"]

#: A conversation in OpenAI chat format, or one user prompt as a string.
Messages = str | Sequence[dict[str, Any]]


@dataclass
class LLMRequest:
    """One call's input, in the OpenAI chat format every model accepts.

    Attributes:
        model: Model id as the provider knows it.
        messages: The conversation, OpenAI chat format.
        tools: Tool schemas, OpenAI function format (wire models translate).
        tool_choice: ``"auto"``, ``"none"``, ``"required"`` or a specific tool.
        temperature: Sampling temperature, if set.
        max_completion_tokens: Output token limit, if set.
        response_format: OpenAI ``response_format`` (JSON mode / schema), if set.
        extra: Other provider parameters, passed through.
        timeout: Seconds before the call is abandoned (and retried).
    """

    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = "auto"
    temperature: float | None = None
    max_completion_tokens: int | None = None
    response_format: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = None

    def copy(self) -> LLMRequest:
        """A copy whose messages, tools and extras can be changed without touching this one."""
        return dataclasses.replace(
            self,
            messages=[dict(message) for message in self.messages],
            tools=list(self.tools) if self.tools is not None else None,
            extra=dict(self.extra),
        )


def build_request(
    model: str,
    messages: Messages,
    *,
    tools: list[dict[str, Any]] | None = None,
    tool_choice: Any = "auto",
    temperature: float | None = None,
    max_completion_tokens: int | None = None,
    response_format: dict[str, Any] | None = None,
    timeout: float | None = None,
    **extra: Any,
) -> LLMRequest:
    """An :class:`LLMRequest` from ``generate()``-style arguments (a string is one user turn)."""
    if isinstance(messages, str):
        conversation = [{"role": "user", "content": messages}]
    else:
        conversation = [dict(message) for message in messages]
    return LLMRequest(
        model=model,
        messages=conversation,
        tools=tools or None,
        tool_choice=tool_choice,
        temperature=temperature,
        max_completion_tokens=max_completion_tokens,
        response_format=response_format,
        extra=extra,
        timeout=timeout,
    )
