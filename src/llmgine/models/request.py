"""What a model is asked: :class:`LLMRequest`, independent of the wire format."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from llmgine.messages.serialization import to_jsonable

__all__ = ["LLMRequest", "Messages", "build_request", "message_hash", "request_hash"]

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


def message_hash(message: Any) -> str:
    """sha256 of one message's canonical JSON (what :func:`request_hash` is made of)."""
    return hashlib.sha256(_canonical(message)).hexdigest()


def request_hash(
    model: str,
    request: LLMRequest,
    *,
    message_hashes: Sequence[str] | None = None,
    response_schema: Any = None,
) -> str:
    """The identity of a request, the same for the same question to the same model.

    sha256 over the model string, each message's hash, the tool schemas,
    ``tool_choice``, the sampling settings, ``response_format``, the extra
    parameters and, for structured output, the response schema; not the
    timeout. Taken before anything is redacted, so a recording can be matched
    to a live request exactly (:class:`~llmgine.models.replay.ReplayModel`).

    Args:
        model: ``"provider:model"``.
        request: The request.
        message_hashes: The messages' :func:`message_hash` values, when known.
        response_schema: The JSON schema of a structured call's answer.
    """
    hashes = (
        list(message_hashes)
        if message_hashes is not None
        else [message_hash(m) for m in request.messages]
    )
    settings = {
        "model": model,
        "messages": hashes,
        "tools": request.tools,
        "tool_choice": request.tool_choice,
        "temperature": request.temperature,
        "max_completion_tokens": request.max_completion_tokens,
        "response_format": request.response_format,
        "extra": request.extra,
        "response_schema": response_schema,
    }
    return hashlib.sha256(_canonical(settings)).hexdigest()


def _canonical(value: Any) -> bytes:
    return json.dumps(
        to_jsonable(value), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    ).encode()
