"""What the offline models share: simulated latency, estimated usage, word streaming.

Offline models answer without a network, a key or a cost: the demo model the
CLI falls back to (:mod:`llmgine.models.demo`) and the test models of
:mod:`llmgine.testing` are built on :class:`OfflineModel`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

from llmgine.errors import ProviderTimeoutError
from llmgine.models.interface import Model
from llmgine.models.request import LLMRequest
from llmgine.models.response import (
    LLMResponse,
    StreamChunk,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    Usage,
    content_text,
)
from llmgine.models.retry import RetryPolicy
from llmgine.tools.tool_call import ToolCall

__all__ = [
    "OfflineModel",
    "chosen_tool_name",
    "copy_call",
    "current_turn",
    "estimate_usage",
    "preview",
    "resolve",
    "text_pieces",
]


def _count_words(text: str) -> int:
    return len(text.split())


def _message_words(message: dict[str, Any]) -> int:
    words = _count_words(content_text(message.get("content")))
    for call in message.get("tool_calls") or []:
        function = call.get("function", call) if isinstance(call, dict) else {}
        words += _count_words(str(function.get("name", "")))
        words += _count_words(str(function.get("arguments", "")))
    return words


def estimate_usage(
    messages: Sequence[dict[str, Any]], content: str | None, tool_calls: Sequence[ToolCall]
) -> Usage:
    """Rough, deterministic token counts: words, plus one per message and per tool call."""
    prompt = sum(1 + _message_words(message) for message in messages)
    completion = _count_words(content or "")
    completion += sum(1 + _count_words(call.arguments) for call in tool_calls)
    return Usage(prompt_tokens=prompt, completion_tokens=completion)


_PIECES = re.compile(r"\S+\s*|\s+")


def text_pieces(text: str) -> list[str]:
    """``text`` cut into words (each with its trailing whitespace); they join back to it."""
    return _PIECES.findall(text)


def copy_call(call: ToolCall) -> ToolCall:
    """A copy of ``call`` whose arguments are a JSON string (a dict given by hand is dumped)."""
    arguments: Any = call.arguments
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, ensure_ascii=False)
    return dataclasses.replace(call, arguments=arguments)


async def resolve(value: Any) -> Any:
    """``value``, awaited first when it is awaitable (a sync or async callback's result)."""
    if inspect.isawaitable(value):
        return await value
    return value


def preview(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def current_turn(messages: Sequence[dict[str, Any]]) -> Sequence[dict[str, Any]]:
    """The messages after the last user message (all of them if there is none)."""
    for position in range(len(messages) - 1, -1, -1):
        if messages[position].get("role") == "user":
            return messages[position + 1 :]
    return messages


def chosen_tool_name(tool_choice: Any) -> str | None:
    """The tool a ``tool_choice`` forces, in the OpenAI or Anthropic shape, if any."""
    if isinstance(tool_choice, dict):
        function = tool_choice.get("function")
        if isinstance(function, dict) and function.get("name"):
            return str(function["name"])
        if tool_choice.get("name"):
            return str(tool_choice["name"])
    return None


class OfflineModel(Model):
    """What the offline models share: latency, usage, reply coercion, word streaming."""

    def __init__(
        self,
        *,
        name: str,
        latency: float,
        retry: RetryPolicy | None,
        timeout: float | None,
    ) -> None:
        super().__init__(retry=retry, timeout=timeout)
        if latency < 0:
            raise ValueError(f"latency must be >= 0 seconds, got {latency}")
        self.name = name
        self.latency = latency

    def price(self, usage: Usage) -> float | None:
        """Offline models are free: always 0.0 USD."""
        return 0.0

    async def _wait(self, request: LLMRequest) -> None:
        """Sleep ``latency`` seconds; past ``request.timeout``, fail as a timeout would."""
        if self.latency <= 0:
            return
        timeout = request.timeout
        if timeout is not None and self.latency > timeout:
            await asyncio.sleep(timeout)
            raise ProviderTimeoutError(
                f"no answer within {timeout:g}s (simulated latency {self.latency:g}s)",
                provider=self.provider,
                model=self.name,
            )
        await asyncio.sleep(self.latency)

    def _response(
        self,
        request: LLMRequest,
        *,
        content: str | None = None,
        tool_calls: Sequence[ToolCall] = (),
    ) -> LLMResponse:
        calls = list(tool_calls)
        return LLMResponse(
            content=content,
            tool_calls=calls,
            finish_reason="tool_calls" if calls else "stop",
            usage=estimate_usage(request.messages, content, calls),
            model=self.name,
            provider=self.provider,
        )

    def _coerce(self, value: Any, request: LLMRequest, source: str) -> LLMResponse:
        """Turn what a function or script gave into an :class:`LLMResponse`."""
        if isinstance(value, LLMResponse):
            response = dataclasses.replace(
                value,
                tool_calls=[copy_call(call) for call in value.tool_calls],
                usage=dataclasses.replace(value.usage),
            )
            if response.usage == Usage():
                response.usage = estimate_usage(
                    request.messages, response.content, response.tool_calls
                )
            if response.finish_reason is None:
                response.finish_reason = "tool_calls" if response.tool_calls else "stop"
            response.model = response.model or self.name
            response.provider = response.provider or self.provider
            return response
        if isinstance(value, str):
            return self._response(request, content=value)
        if isinstance(value, ToolCall):
            return self._response(request, tool_calls=[copy_call(value)])
        if (
            isinstance(value, list | tuple)
            and value
            and all(isinstance(call, ToolCall) for call in value)
        ):
            return self._response(request, tool_calls=[copy_call(call) for call in value])
        raise TypeError(
            f"{source} gave {preview(value)} ({type(value).__name__}); expected an "
            "LLMResponse, a str, a ToolCall or a non-empty list of ToolCalls"
        )

    async def request_stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        """Its thinking, the answer word by word, each tool call in one piece, the response."""
        response = await self.request(request)
        if response.thinking:
            yield ThinkingDelta(response.thinking)
        for piece in text_pieces(response.content or ""):
            yield TextDelta(piece)
        for index, call in enumerate(response.tool_calls):
            yield ToolCallDelta(index, id=call.id, name=call.name, arguments=call.arguments)
        yield response
