"""The OpenAI Chat Completions wire format, on the official ``openai`` SDK.

Serves OpenAI itself and every OpenAI-compatible API (OpenRouter, Gemini's
compatible endpoint, xAI, DeepSeek, Ollama, vLLM, llama.cpp ...).
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import AsyncIterator
from functools import cache
from typing import Any, TypeVar

from llmgine.llm.providers.interface import LLMRequest, SDKProvider
from llmgine.llm.providers.sdk_errors import map_sdk_error
from llmgine.llm.providers.structured import instructor_create
from llmgine.llm.response import LLMResponse, StreamChunk, TextDelta, ToolCallDelta, Usage
from llmgine.tools.tool_call import ToolCall

try:
    import openai
except ImportError as exc:  # pragma: no cover - a declared dependency
    raise ImportError("the OpenAI provider needs the openai package: pip install openai") from exc

__all__ = ["OpenAIProvider", "parse_completion"]

T = TypeVar("T")

# o-series reasoning models reject a temperature.
_NO_TEMPERATURE = re.compile(r"^(?:[\w.-]+/)?o\d")


@cache
def _create_parameters() -> frozenset[str]:
    client = openai.AsyncOpenAI(api_key="unused", base_url="http://127.0.0.1:1")
    return frozenset(inspect.signature(client.chat.completions.create).parameters)


def _usage(raw: Any) -> Usage:
    if raw is None:
        return Usage()
    completion_details = getattr(raw, "completion_tokens_details", None)
    prompt_details = getattr(raw, "prompt_tokens_details", None)
    return Usage(
        prompt_tokens=getattr(raw, "prompt_tokens", 0) or 0,
        completion_tokens=getattr(raw, "completion_tokens", 0) or 0,
        reasoning_tokens=getattr(completion_details, "reasoning_tokens", 0) or 0,
        cached_tokens=getattr(prompt_details, "cached_tokens", 0) or 0,
        total_tokens=getattr(raw, "total_tokens", 0) or 0,
    )


def parse_completion(completion: Any, provider: str, model: str) -> LLMResponse:
    """An :class:`LLMResponse` from a ``ChatCompletion``.

    Raises:
        ProviderResponseError: the completion has no choice to read.
    """
    from llmgine.errors import ProviderResponseError

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
    return LLMResponse(
        content=message.content,
        tool_calls=tool_calls,
        finish_reason=choice.finish_reason,
        usage=_usage(getattr(completion, "usage", None)),
        model=getattr(completion, "model", None) or model,
        provider=provider,
        raw=completion,
    )


class OpenAIProvider(SDKProvider):
    """Chat Completions through ``openai.AsyncOpenAI``.

    Args:
        name: Provider name (``"openai"``, ``"openrouter"``, ...).
        api_key: The key.
        base_url: API base URL; None lets the SDK decide (``OPENAI_BASE_URL``
            or api.openai.com).
        default_headers: Extra headers on every request.
        extra_body: Extra JSON fields on every request (OpenRouter's
            ``provider`` routing, for instance).
    """

    @staticmethod
    def client_class() -> Any:
        """``openai.AsyncOpenAI``."""
        return openai.AsyncOpenAI

    def _params(self, request: LLMRequest) -> dict[str, Any]:
        params: dict[str, Any] = {"model": request.model, "messages": request.messages}
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

    def _error(self, exc: Exception, model: str) -> Exception:
        return map_sdk_error(exc, openai, self.name, model)

    async def complete(self, request: LLMRequest) -> LLMResponse:
        """Send ``request``; return the whole answer."""
        try:
            completion = await self.client.chat.completions.create(**self._params(request))
        except openai.OpenAIError as exc:
            raise self._error(exc, request.model) from exc
        except json.JSONDecodeError as exc:
            raise self._error(exc, request.model) from exc
        return parse_completion(completion, self.name, request.model)

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        """Send ``request`` with ``stream=True``; yield deltas, then the answer."""
        params = self._params(request)
        params["stream"] = True
        params["stream_options"] = {"include_usage": True}
        text: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        usage = Usage()
        finish_reason: str | None = None
        model = request.model
        try:
            stream = await self.client.chat.completions.create(**params)
            async for chunk in stream:
                model = getattr(chunk, "model", None) or model
                if getattr(chunk, "usage", None) is not None:
                    usage = _usage(chunk.usage)
                for choice in chunk.choices or []:
                    delta = choice.delta
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
                        yield ToolCallDelta(call.index, id=call.id, name=name, arguments=arguments)
                    if choice.finish_reason:
                        finish_reason = choice.finish_reason
        except openai.OpenAIError as exc:
            raise self._error(exc, request.model) from exc
        yield LLMResponse(
            content="".join(text) if text else None,
            tool_calls=[
                ToolCall(id=entry["id"], name=entry["name"], arguments=entry["arguments"] or "{}")
                for _, entry in sorted(calls.items())
            ],
            finish_reason=finish_reason,
            usage=usage,
            model=model,
            provider=self.name,
        )

    async def structured(
        self, request: LLMRequest, response_model: type[T], max_retries: int
    ) -> tuple[T, LLMResponse]:
        """A validated ``response_model`` instance through instructor (tool-call mode)."""
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
            provider=self.name,
            model=request.model,
            response_model=response_model,
            messages=messages,
            max_retries=max_retries,
            params=params,
            parse=lambda answer: parse_completion(answer, self.name, request.model),
            usage_of=_usage,
        )
