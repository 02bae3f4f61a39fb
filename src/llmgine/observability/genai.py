"""What the OpenTelemetry handler reads from events, in the GenAI conventions' terms.

Plain functions over event fields (read by name, as the journal reads log
lines): provider names, request settings, token usage, and messages in the
conventions' ``role`` + ``parts`` form for ``gen_ai.input.messages`` /
``gen_ai.output.messages``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "agent_name",
    "input_messages",
    "output_messages",
    "provider_name",
    "read_field",
    "request_attributes",
    "split_model_string",
    "usage_attributes",
]

# LLMgine provider names whose GenAI convention names differ; others are kept as they are.
_PROVIDERS = {"gemini": "gcp.gemini", "xai": "x_ai"}
# Request settings (LLMCallEvent.parameters) and their attributes.
_PARAMETERS = {
    "temperature": "gen_ai.request.temperature",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "max_tokens": "gen_ai.request.max_tokens",
    "top_p": "gen_ai.request.top_p",
    "top_k": "gen_ai.request.top_k",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "seed": "gen_ai.request.seed",
    "stop": "gen_ai.request.stop_sequences",
}
_USAGE = {
    "prompt_tokens": "gen_ai.usage.input_tokens",
    "completion_tokens": "gen_ai.usage.output_tokens",
    "cached_tokens": "gen_ai.usage.cache_read.input_tokens",
    "cache_write_tokens": "gen_ai.usage.cache_creation.input_tokens",
    "reasoning_tokens": "gen_ai.usage.reasoning.output_tokens",
}
# Always recorded when the call reports usage, even as 0; the others only when non-zero.
_ALWAYS = frozenset({"prompt_tokens", "completion_tokens"})


def read_field(value: Any, name: str, default: Any = None) -> Any:
    """``value.name`` or ``value[name]``: events hold dataclasses, decoded logs hold dicts."""
    if isinstance(value, Mapping):
        return value.get(name, default)
    return getattr(value, name, default)


def provider_name(provider: str) -> str:
    """The ``gen_ai.provider.name`` of an LLMgine provider (``"gemini"`` -> ``"gcp.gemini"``)."""
    return _PROVIDERS.get(provider, provider)


def split_model_string(model: str) -> tuple[str, str]:
    """``"openai:gpt-4.1"`` -> ``("openai", "gpt-4.1")``; ``"test"`` -> ``("test", "test")``."""
    provider, _, name = model.partition(":")
    return provider, name or provider


def agent_name(engine: str) -> str:
    """The engine's class name from its ``"module:Class"``."""
    return engine.rpartition(":")[2] or engine


def request_attributes(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """``gen_ai.request.*`` attributes of a call's settings (those that have one)."""
    attributes: dict[str, Any] = {}
    for name, value in parameters.items():
        key = _PARAMETERS.get(name)
        if key is None or value is None:
            continue
        if key == "gen_ai.request.stop_sequences":
            value = [value] if isinstance(value, str) else [str(v) for v in value]
        elif not isinstance(value, int | float):
            continue
        attributes[key] = value
    return attributes


def usage_attributes(usage: Any) -> dict[str, int]:
    """``gen_ai.usage.*`` attributes of a response's token counts."""
    attributes: dict[str, int] = {}
    if usage is None:
        return attributes
    for name, key in _USAGE.items():
        count = read_field(usage, name)
        if isinstance(count, int) and (count or name in _ALWAYS):
            attributes[key] = count
    return attributes


def _arguments(text: Any) -> Any:
    if isinstance(text, str):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _content_parts(content: Any) -> list[dict[str, Any]]:
    """Parts of an OpenAI-format ``content``: a string, or a list of typed items."""
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts: list[dict[str, Any]] = []
    if isinstance(content, list):
        for item in content:
            if isinstance(item, Mapping) and item.get("type") == "text":
                parts.append({"type": "text", "content": str(item.get("text", ""))})
            elif isinstance(item, Mapping):  # images, files...: kept as they were sent
                parts.append({**item, "type": str(item.get("type") or "unknown")})
            else:
                parts.append({"type": "text", "content": str(item)})
        return parts
    return [{"type": "text", "content": str(content)}]


def _tool_call_parts(calls: Iterable[Any]) -> list[dict[str, Any]]:
    parts = []
    for call in calls:
        function = read_field(call, "function")  # OpenAI message format
        source = function if function is not None else call  # LLMgine ToolCall
        parts.append(
            {
                "type": "tool_call",
                "id": read_field(call, "id"),
                "name": read_field(source, "name", ""),
                "arguments": _arguments(read_field(source, "arguments")),
            }
        )
    return parts


def input_messages(messages: Iterable[Any]) -> list[dict[str, Any]]:
    """OpenAI-format chat messages as the conventions' input messages."""
    converted = []
    for message in messages:
        if not isinstance(message, Mapping):
            continue
        role = str(message.get("role") or "user")
        if role == "tool":
            parts: list[dict[str, Any]] = [
                {
                    "type": "tool_call_response",
                    "id": message.get("tool_call_id"),
                    "response": message.get("content"),
                }
            ]
        else:
            parts = _content_parts(message.get("content"))
            parts += _tool_call_parts(message.get("tool_calls") or [])
        entry: dict[str, Any] = {"role": role, "parts": parts}
        if message.get("name") and role != "tool":
            entry["name"] = message["name"]
        converted.append(entry)
    return converted


def output_messages(
    content: str | None,
    tool_calls: Iterable[Any],
    finish_reason: str | None,
    thinking: str | None = None,
) -> list[dict[str, Any]]:
    """A response as the conventions' output messages (one assistant message)."""
    parts: list[dict[str, Any]] = []
    if thinking:
        parts.append({"type": "reasoning", "content": thinking})
    parts += _content_parts(content)
    parts += _tool_call_parts(tool_calls)
    return [{"role": "assistant", "parts": parts, "finish_reason": finish_reason or "stop"}]
