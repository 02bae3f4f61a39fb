"""Anthropic answers as LLMgine's: messages, stop reasons, usage and thinking blocks.

Pure functions, no network; :mod:`llmgine.models.anthropic_format`
translates the requests.
"""

from __future__ import annotations

import json
from typing import Any

from llmgine.models.response import (
    LLMResponse,
    RedactedThinkingPart,
    ThinkingBlock,
    ThinkingPart,
    Usage,
)
from llmgine.tools.tool_call import ToolCall

__all__ = ["anthropic_usage", "finish_reason", "parse_message", "thinking_part"]

_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "refusal": "content_filter",
}


def _get(obj: Any, key: str, default: Any = None) -> Any:
    """``obj[key]`` for dicts, ``obj.key`` for SDK / pydantic objects."""
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def finish_reason(stop_reason: str | None) -> str | None:
    """OpenAI's finish reason for an Anthropic ``stop_reason`` (others pass through).

    ``end_turn`` / ``stop_sequence`` -> ``"stop"``, ``tool_use`` ->
    ``"tool_calls"``, ``max_tokens`` / ``model_context_window_exceeded`` ->
    ``"length"``, ``refusal`` -> ``"content_filter"``.
    """
    if stop_reason is None:
        return None
    return _FINISH_REASONS.get(stop_reason, stop_reason)


def anthropic_usage(raw: Any) -> Usage:
    """:class:`Usage` from Anthropic's usage (an SDK object or a dict).

    Anthropic counts cache reads and writes apart from ``input_tokens``; they
    are added back, so ``prompt_tokens`` is every input token, and kept apart
    (``cached_tokens``, ``cache_write_tokens``, the one-hour part in
    ``cache_write_1h_tokens`` from ``cache_creation``) so each is priced at
    its rate. Thinking tokens come from ``output_tokens_details``, when reported.
    """
    if raw is None:
        return Usage()
    fresh = _get(raw, "input_tokens") or 0
    cache_read = _get(raw, "cache_read_input_tokens") or 0
    cache_write = _get(raw, "cache_creation_input_tokens") or 0
    creation = _get(raw, "cache_creation")
    write_5m = _get(creation, "ephemeral_5m_input_tokens") or 0
    write_1h = _get(creation, "ephemeral_1h_input_tokens") or 0
    if not cache_write:
        cache_write = write_5m + write_1h
    details = _get(raw, "output_tokens_details")
    return Usage(
        prompt_tokens=fresh + cache_read + cache_write,
        completion_tokens=_get(raw, "output_tokens") or 0,
        reasoning_tokens=_get(details, "thinking_tokens") or 0,
        cached_tokens=cache_read,
        cache_write_tokens=cache_write,
        cache_write_1h_tokens=min(write_1h, cache_write),
    )


def thinking_part(block: Any) -> ThinkingBlock | None:
    """The typed thinking block of an Anthropic content block, if it is one."""
    kind = _get(block, "type")
    if kind == "thinking":
        return ThinkingPart(_get(block, "thinking") or "", _get(block, "signature"))
    if kind == "redacted_thinking":
        return RedactedThinkingPart(_get(block, "data") or "")
    return None


def parse_message(message: Any, provider: str, model: str) -> LLMResponse:
    """An :class:`LLMResponse` from an Anthropic ``Message`` (SDK object or dict).

    Text blocks are joined into ``content`` (None when there are none);
    ``tool_use`` blocks become :class:`ToolCall` objects with the input as a
    JSON string; ``thinking`` and ``redacted_thinking`` blocks are kept, in
    order, with their signatures and data, in ``thinking_blocks``;
    server-tool blocks are left out (they stay in ``raw``).
    """
    texts: list[str] = []
    calls: list[ToolCall] = []
    thinking: list[ThinkingBlock] = []
    for block in _get(message, "content") or []:
        kind = _get(block, "type")
        part = thinking_part(block)
        if part is not None:
            thinking.append(part)
        elif kind == "text":
            texts.append(_get(block, "text") or "")
        elif kind == "tool_use":
            calls.append(
                ToolCall(
                    id=_get(block, "id"),
                    name=_get(block, "name") or "",
                    arguments=json.dumps(_get(block, "input") or {}),
                )
            )
    return LLMResponse(
        content="".join(texts) if texts else None,
        tool_calls=calls,
        finish_reason=finish_reason(_get(message, "stop_reason")),
        usage=anthropic_usage(_get(message, "usage")),
        model=_get(message, "model") or model,
        provider=provider,
        raw=message,
        thinking_blocks=thinking,
    )
