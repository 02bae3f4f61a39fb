"""The OpenAI Chat Completions wire format, on the official ``openai`` SDK.

Serves OpenAI itself and every OpenAI-compatible API (OpenRouter, Gemini's
compatible endpoint, xAI, DeepSeek, Ollama, vLLM, llama.cpp ...).

Reasoning text that compatible servers return (``reasoning_content`` from
DeepSeek and vLLM, ``reasoning`` from OpenRouter and Ollama) becomes the
response's thinking; OpenAI's own reasoning models keep it hidden and report
only ``reasoning_tokens`` (``reasoning_effort=`` sets how hard they think).
Thinking blocks in the conversation (``thinking_blocks`` of assistant
messages, from Anthropic models) are not sent: this wire has no field for them.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import AsyncIterator
from functools import cache
from typing import Any, TypeVar

from llmgine.errors import ProviderResponseError
from llmgine.models.provider_model import ProviderModel
from llmgine.models.request import LLMRequest
from llmgine.models.response import (
    LLMResponse,
    StreamChunk,
    TextDelta,
    ThinkingDelta,
    ThinkingPart,
    ToolCallDelta,
    Usage,
    content_text,
)
from llmgine.models.sdk_errors import (
    TRANSPORT_ERRORS,
    map_sdk_error,
    map_transport_error,
    read_timeout_seconds,
)
from llmgine.models.structured import instructor_create
from llmgine.providers.interface import Provider
from llmgine.tools.tool_call import ToolCall

__all__ = ["OpenAIChatModel", "parse_completion"]

T = TypeVar("T")


def _sdk() -> Any:
    """The ``openai`` package, imported at the first call (it takes seconds on a slow machine)."""
    try:
        import openai
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ImportError(
            "OpenAI-format models need the openai package: pip install openai"
        ) from exc
    return openai


# o-series reasoning models reject a temperature.
_NO_TEMPERATURE = re.compile(r"^(?:[\w.-]+/)?o\d")
# Where compatible servers put reasoning text: DeepSeek / vLLM, then OpenRouter / Ollama.
_REASONING_FIELDS = ("reasoning_content", "reasoning")


@cache
def _create_parameters() -> frozenset[str]:
    openai = _sdk()
    client = openai.AsyncOpenAI(api_key="unused", base_url="http://127.0.0.1:1")
    return frozenset(inspect.signature(client.chat.completions.create).parameters)


def _usage(raw: Any) -> Usage:
    """:class:`Usage` from a Chat Completions usage object.

    Cache reads are ``prompt_tokens_details.cached_tokens`` (DeepSeek's
    ``prompt_cache_hit_tokens`` when there are no details); cache writes are
    ``prompt_tokens_details.cache_write_tokens`` (OpenRouter). Both are part
    of ``prompt_tokens`` on this wire.
    """
    if raw is None:
        return Usage()
    completion_details = getattr(raw, "completion_tokens_details", None)
    prompt_details = getattr(raw, "prompt_tokens_details", None)
    cached = getattr(prompt_details, "cached_tokens", None)
    if not cached:
        cached = getattr(raw, "prompt_cache_hit_tokens", None)
    return Usage(
        prompt_tokens=getattr(raw, "prompt_tokens", 0) or 0,
        completion_tokens=getattr(raw, "completion_tokens", 0) or 0,
        reasoning_tokens=getattr(completion_details, "reasoning_tokens", 0) or 0,
        cached_tokens=cached or 0,
        total_tokens=getattr(raw, "total_tokens", 0) or 0,
        cache_write_tokens=getattr(prompt_details, "cache_write_tokens", 0) or 0,
    )


def _reasoning(message: Any) -> str | None:
    """The reasoning text a compatible server put beside the answer, if any."""
    for name in _REASONING_FIELDS:
        value = getattr(message, name, None)
        if isinstance(value, str) and value:
            return value
    return None


def _without_thinking_blocks(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages as this wire takes them.

    ``thinking_blocks`` (Anthropic's) have no field here; tool results take
    only text parts, so the text of one with images (an MCP tool's, which
    describes them) is sent alone.
    """
    if not any(isinstance(m, dict) and _needs_change(m) for m in messages):
        return messages
    return [_for_wire(m) if isinstance(m, dict) and _needs_change(m) else m for m in messages]


def _needs_change(message: dict[str, Any]) -> bool:
    if "thinking_blocks" in message:
        return True
    return message.get("role") == "tool" and isinstance(message.get("content"), list)


def _for_wire(message: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in message.items() if k != "thinking_blocks"}
    if out.get("role") == "tool" and isinstance(out.get("content"), list):
        out["content"] = content_text(out["content"], sep="\n")
    return out


def parse_completion(completion: Any, provider: str, model: str) -> LLMResponse:
    """An :class:`LLMResponse` from a ``ChatCompletion``.

    Raises:
        ProviderResponseError: the completion has no choice to read.
    """
    choices = getattr(completion, "choices", None)
    if not choices:
        raise ProviderResponseError("the answer has no choices", provider=provider, model=model)
    choice = choices[0]
    message = choice.message
    tool_calls = [
        ToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments or "{}")
        for call in (message.tool_calls or [])
        if getattr(call, "function", None) is not None
    ]
    reasoning = _reasoning(message)
    return LLMResponse(
        content=message.content,
        tool_calls=tool_calls,
        finish_reason=choice.finish_reason,
        usage=_usage(getattr(completion, "usage", None)),
        model=getattr(completion, "model", None) or model,
        provider=provider,
        raw=completion,
        thinking_blocks=[ThinkingPart(reasoning)] if reasoning else [],
    )


class OpenAIChatModel(ProviderModel):
    """Chat Completions, on ``openai.AsyncOpenAI``: OpenAI and every OpenAI-compatible API.

    ``OpenAIChatModel("openai", "gpt-4.1-mini")``,
    ``OpenAIChatModel("openrouter", "openai/gpt-4.1-mini", routing=[...])``; the
    arguments are :class:`~llmgine.models.provider_model.ProviderModel`'s.
    """

    wire = "openai"
    _instructor: Any = None

    @staticmethod
    def provider_class() -> type[Provider]:
        """``OpenAIProvider`` (imported with its SDK at the first call)."""
        from llmgine.providers.openai import OpenAIProvider

        return OpenAIProvider

    def client_changed(self) -> None:
        """Forget the instructor client built on the previous SDK client."""
        self._instructor = None

    def _params(self, request: LLMRequest) -> dict[str, Any]:
        request = self.with_defaults(request)
        params: dict[str, Any] = {
            "model": request.model,
            "messages": _without_thinking_blocks(request.messages),
        }
        if request.tools:
            params["tools"] = request.tools
            if request.tool_choice is not None:
                params["tool_choice"] = request.tool_choice
        if request.temperature is not None and not _NO_TEMPERATURE.match(request.model):
            params["temperature"] = request.temperature
        if request.max_completion_tokens is not None:
            params["max_completion_tokens"] = request.max_completion_tokens
        if request.response_format is not None:
            params["response_format"] = request.response_format
        if request.timeout is not None:
            params["timeout"] = request.timeout
        # Parameters this SDK version does not know go in the JSON body as they are.
        known = _create_parameters()
        extra_body = dict(self.extra_body)
        for key, value in request.extra.items():
            if key == "extra_body" and isinstance(value, dict):
                extra_body.update(value)
            elif key in known:
                params[key] = value
            else:
                extra_body[key] = value
        if extra_body:
            params["extra_body"] = extra_body
        return params

    def _wait(self, request: LLMRequest) -> float | None:
        """Seconds a read may wait: the request's timeout, else the client's."""
        if request.timeout is not None:
            return request.timeout
        return read_timeout_seconds(getattr(self.client, "timeout", None))

    def _error(self, exc: Exception, request: LLMRequest) -> Exception:
        openai = _sdk()
        return map_sdk_error(exc, openai, self.provider, request.model, wait=self._wait(request))

    async def request(self, request: LLMRequest) -> LLMResponse:
        """Send ``request``; return the whole answer."""
        openai = _sdk()
        try:
            completion = await self.client.chat.completions.create(**self._params(request))
        except (openai.OpenAIError, json.JSONDecodeError, *TRANSPORT_ERRORS) as exc:
            raise self._error(exc, request) from exc
        return parse_completion(completion, self.provider, request.model)

    async def request_stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        """Send ``request`` with ``stream=True``; yield deltas, then the answer.

        Raises:
            ProviderTimeoutError: the stream stalled longer than the read timeout.
            ProviderConnectionError: the connection dropped mid-stream.
            ProviderResponseError: the stream ended without a ``finish_reason``
                or a usage chunk (cut short), or an event could not be read.
        """
        openai = _sdk()
        params = self._params(request)
        params["stream"] = True
        params["stream_options"] = {"include_usage": True}
        text: list[str] = []
        reasoning: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        usage: Usage | None = None
        finish_reason: str | None = None
        model = request.model
        received = 0
        try:
            stream = await self.client.chat.completions.create(**params)
            # Closed on every exit, a consumer that stops early included.
            async with stream:
                async for chunk in stream:
                    received += 1
                    model = getattr(chunk, "model", None) or model
                    if getattr(chunk, "usage", None) is not None:
                        usage = _usage(chunk.usage)
                    for choice in chunk.choices or []:
                        delta = choice.delta
                        thought = _reasoning(delta) if delta is not None else None
                        if thought:
                            reasoning.append(thought)
                            yield ThinkingDelta(thought)
                        if delta is not None and delta.content:
                            text.append(delta.content)
                            yield TextDelta(delta.content)
                        for call in (delta.tool_calls if delta is not None else None) or []:
                            entry = calls.setdefault(
                                call.index, {"id": "", "name": "", "arguments": ""}
                            )
                            function = call.function
                            name = function.name if function is not None else None
                            arguments = (function.arguments if function is not None else None) or ""
                            if call.id:
                                entry["id"] = call.id
                            if name:
                                entry["name"] += name
                            entry["arguments"] += arguments
                            yield ToolCallDelta(
                                call.index, id=call.id, name=name, arguments=arguments
                            )
                        if choice.finish_reason:
                            finish_reason = choice.finish_reason
        except openai.OpenAIError as exc:
            raise self._error(exc, request) from exc
        except TRANSPORT_ERRORS as exc:
            raise map_transport_error(
                exc, self.provider, request.model, wait=self._wait(request), pieces=received
            ) from exc
        except ValueError as exc:  # an event cut mid-way is not JSON
            raise ProviderResponseError(
                f"a stream event could not be read after {received} events "
                f"(the stream was cut mid-event?): {exc}",
                provider=self.provider,
                model=request.model,
            ) from exc
        # Complete streams end with a finish_reason (and, asked for, a usage chunk).
        if finish_reason is None and usage is None:
            raise ProviderResponseError(
                f"the stream ended before the answer was complete (no finish_reason after "
                f"{received} events)",
                provider=self.provider,
                model=request.model,
            )
        yield LLMResponse(
            content="".join(text) if text else None,
            tool_calls=[
                ToolCall(id=entry["id"], name=entry["name"], arguments=entry["arguments"] or "{}")
                for _, entry in sorted(calls.items())
            ],
            finish_reason=finish_reason,
            usage=usage or Usage(),
            model=model,
            provider=self.provider,
            thinking_blocks=[ThinkingPart("".join(reasoning))] if reasoning else [],
        )

    async def request_structured(
        self, request: LLMRequest, response_model: type[T], max_retries: int
    ) -> tuple[T, LLMResponse]:
        """A validated ``response_model`` instance through instructor (tool-call mode)."""
        openai = _sdk()
        import instructor

        if self._instructor is None:
            self._instructor = instructor.from_openai(self.client, mode=instructor.Mode.TOOLS)
        params = self._params(request)
        params.pop("tools", None)
        params.pop("tool_choice", None)
        messages = params.pop("messages")
        return await instructor_create(
            self._instructor,
            sdk=openai,
            provider=self.provider,
            model=request.model,
            response_model=response_model,
            messages=messages,
            max_retries=max_retries,
            params=params,
            parse=lambda answer: parse_completion(answer, self.provider, request.model),
            usage_of=_usage,
        )
