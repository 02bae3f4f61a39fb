"""Anthropic's Messages API, on the official ``anthropic`` SDK.

Requests arrive in the OpenAI chat format and are translated by
:mod:`llmgine.models.anthropic_format`; answers come back as the same
:class:`LLMResponse` every provider returns (Anthropic's stop reasons mapped
onto OpenAI's finish reasons, cache reads and writes counted in
``prompt_tokens`` and kept apart for pricing, thinking blocks kept with their
signatures). ``thinking=`` (a budget, ``"adaptive"``, or Anthropic's dict) turns
extended thinking on.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator
from functools import cache
from typing import Any, TypeVar

from llmgine.errors import (
    ConfigurationError,
    ProviderAuthError,
    ProviderBadRequestError,
    ProviderError,
    ProviderRateLimitError,
    ProviderResponseError,
    ProviderServerError,
    ProviderTimeoutError,
)
from llmgine.models.anthropic_format import (
    thinking_config,
    to_anthropic_messages,
    to_anthropic_tool_choice,
    to_anthropic_tools,
    to_output_config,
)
from llmgine.models.anthropic_response import (
    anthropic_usage,
    finish_reason,
    parse_message,
    thinking_part,
)
from llmgine.models.provider_model import ProviderModel
from llmgine.models.request import LLMRequest
from llmgine.models.response import (
    LLMResponse,
    StreamChunk,
    TextDelta,
    ThinkingBlock,
    ThinkingDelta,
    ThinkingPart,
    ToolCallDelta,
    Usage,
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

__all__ = ["DEFAULT_MAX_TOKENS", "AnthropicModel"]

T = TypeVar("T")


def _sdk() -> Any:
    """The ``anthropic`` package, imported at the first call (seconds on a slow machine)."""
    try:
        import anthropic
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ImportError(
            "the Anthropic model needs the anthropic package: pip install anthropic"
        ) from exc
    return anthropic


#: ``max_tokens`` when the request sets no ``max_completion_tokens`` (the API requires
#: one); with a thinking budget, the budget is added so the answer keeps this much.
DEFAULT_MAX_TOKENS = 4096

# An ``error`` event inside a 200 stream (or an error envelope in a 200 reply,
# as gateways send) names its kind, not an HTTP status.
_STREAM_ERRORS: dict[str, type[ProviderError]] = {
    "rate_limit_error": ProviderRateLimitError,
    "overloaded_error": ProviderServerError,
    "api_error": ProviderServerError,
    "timeout_error": ProviderTimeoutError,
    "authentication_error": ProviderAuthError,
    "permission_error": ProviderAuthError,
    "billing_error": ProviderAuthError,
    "invalid_request_error": ProviderBadRequestError,
    "not_found_error": ProviderBadRequestError,
}


@cache
def _create_parameters() -> frozenset[str]:
    """The keyword parameters of this SDK version's ``messages.create``."""
    from anthropic.resources.messages import AsyncMessages

    return frozenset(inspect.signature(AsyncMessages.create).parameters) - {"self"}


class AnthropicModel(ProviderModel):
    """Anthropic's Messages API, on ``anthropic.AsyncAnthropic``.

    ``AnthropicModel("anthropic", "claude-haiku-4-5", thinking=4096)``; the
    arguments are :class:`~llmgine.models.provider_model.ProviderModel`'s.
    """

    wire = "anthropic"
    _instructor: Any = None

    @staticmethod
    def provider_class() -> type[Provider]:
        """``AnthropicProvider`` (imported with its SDK at the first call)."""
        from llmgine.providers.anthropic import AnthropicProvider

        return AnthropicProvider

    def client_changed(self) -> None:
        """Forget the instructor client built on the previous SDK client."""
        self._instructor = None

    def check_defaults(self, defaults: dict[str, Any]) -> dict[str, Any]:
        """Turn a ``thinking`` setting into Anthropic's form (a budget, ``"adaptive"``, a dict).

        Raises:
            ConfigurationError: a ``thinking`` value Anthropic does not understand.
        """
        if defaults.get("thinking") is not None:
            try:
                defaults["thinking"] = thinking_config(defaults["thinking"])
            except ValueError as exc:
                raise ConfigurationError(f"{self.model_string}: {exc}") from exc
        return defaults

    def _params(self, request: LLMRequest, *, for_structured: bool = False) -> dict[str, Any]:
        """``messages.create`` keyword arguments for ``request``.

        ``temperature`` goes in the JSON body when this SDK version's
        ``messages.create`` has no such parameter (2.x has none). A
        ``json_schema`` ``response_format`` becomes ``output_config.format``;
        other formats are not sent. ``thinking`` is normalised by
        :func:`~llmgine.models.anthropic_format.thinking_config`; when
        the request sets no output limit, ``max_tokens`` is the thinking
        budget plus :data:`DEFAULT_MAX_TOKENS`. Parameters the SDK does not
        know go in the JSON body as they are.

        Raises:
            ProviderBadRequestError: the messages (or the thinking setting)
                cannot be expressed for Anthropic.
        """
        request = self.with_defaults(request)
        try:
            system, messages = to_anthropic_messages(request.messages)
            extra = dict(request.extra)
            parallel = extra.pop("parallel_tool_calls", None)
            thinking = thinking_config(extra.pop("thinking", None))
            tools = to_anthropic_tools(request.tools) if request.tools else None
            choice = to_anthropic_tool_choice(request.tool_choice, parallel) if tools else None
        except (ValueError, TypeError, KeyError) as exc:
            raise ProviderBadRequestError(
                f"the request cannot be sent to Anthropic: {exc}",
                provider=self.provider,
                model=request.model,
            ) from exc

        known = _create_parameters()
        extra_body = dict(self.extra_body)
        max_tokens = request.max_completion_tokens
        if max_tokens is None:
            budget = thinking.get("budget_tokens") if thinking else None
            max_tokens = DEFAULT_MAX_TOKENS + (budget if isinstance(budget, int) else 0)
        params: dict[str, Any] = {
            "model": request.model,
            "max_tokens": max_tokens,
            "messages": messages,
        }
        if thinking is not None:
            params["thinking"] = thinking
        if system:
            params["system"] = system
        if tools and not for_structured:
            params["tools"] = tools
            if choice is not None:
                params["tool_choice"] = choice
        if request.temperature is not None:
            if "temperature" in known:
                params["temperature"] = request.temperature
            else:
                extra_body["temperature"] = request.temperature
        output_config = None if for_structured else to_output_config(request.response_format)
        if output_config is not None:
            params["output_config"] = output_config
        if request.timeout is not None:
            params["timeout"] = request.timeout
        stop = extra.pop("stop", None)
        if stop is not None and "stop_sequences" not in extra:
            params["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        for key, value in extra.items():
            if key == "extra_body" and isinstance(value, dict):
                extra_body.update(value)
            elif key == "output_config" and isinstance(value, dict):
                params["output_config"] = {**params.get("output_config", {}), **value}
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

    def _error(self, exc: Exception, request: LLMRequest) -> ProviderError:
        anthropic = _sdk()
        model = request.model
        if isinstance(exc, anthropic.APIStatusError) and exc.status_code < 400:
            return self._stream_error(exc, model)
        if isinstance(exc, ValueError) and not isinstance(exc, json.JSONDecodeError):
            # The SDK refuses some requests itself (a non-streamed call whose
            # max_tokens may take over ten minutes, for one).
            return ProviderBadRequestError(str(exc), provider=self.provider, model=model)
        return map_sdk_error(exc, anthropic, self.provider, model, wait=self._wait(request))

    def _typed_error(self, kind: str | None, message: str, model: str) -> ProviderError:
        """The error for Anthropic's error type ``kind`` (``overloaded_error``...)."""
        error_class = _STREAM_ERRORS.get(kind or "", ProviderResponseError)
        return error_class(message, provider=self.provider, model=model)

    def _stream_error(self, exc: Any, model: str) -> ProviderError:
        """The error for an ``error`` event in a stream that began with HTTP 200."""
        message = getattr(exc, "api_message", None) or str(exc)
        return self._typed_error(getattr(exc, "type", None), message, model)

    def _check_message(self, message: Any, model: str) -> None:
        """Raise for a 200 body that is not a message (an error envelope, anything else).

        Raises:
            ProviderError: the mapped error of an ``{"type": "error"}`` envelope
                (``overloaded_error`` is a retryable server error).
            ProviderResponseError: any other body that is not a message.
        """
        kind = getattr(message, "type", None)
        if kind == "error":
            error = getattr(message, "error", None)
            get = error.get if isinstance(error, dict) else lambda key: getattr(error, key, None)
            error_type = get("type") if error is not None else None
            text = get("message") if error is not None else None
            detail = text or error_type or "an error with no message"
            raise self._typed_error(
                error_type, f"{detail} (an error envelope in an HTTP 200 reply)", model
            )
        if kind not in (None, "message") or not isinstance(getattr(message, "content", None), list):
            raise ProviderResponseError(
                f"the answer is not a message (type={kind!r}); a proxy or gateway may have "
                "answered instead of the API",
                provider=self.provider,
                model=model,
            )

    async def request(self, request: LLMRequest) -> LLMResponse:
        """Send ``request``; return the whole answer.

        Raises:
            ProviderError: the call failed, or the HTTP 200 body was an error
                envelope (mapped by its type) or not a message.
        """
        anthropic = _sdk()
        params = self._params(request)
        try:
            message = await self.client.messages.create(**params)
        except (anthropic.AnthropicError, ValueError, *TRANSPORT_ERRORS) as exc:
            raise self._error(exc, request) from exc
        self._check_message(message, request.model)
        return parse_message(message, self.provider, request.model)

    async def request_stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        """Send ``request`` with ``stream=True``; yield deltas, then the answer.

        Reads the raw event stream: ``message_start`` (model, input usage),
        ``content_block_start`` / ``content_block_delta`` (text, thinking
        (``thinking_delta``, ``signature_delta``), redacted thinking and
        tool-call pieces; tool calls are numbered 0, 1, ... among the tool_use
        blocks), ``message_delta`` (stop reason, output usage), ``message_stop``.

        Raises:
            ProviderTimeoutError: the stream stalled longer than the read timeout.
            ProviderConnectionError: the connection dropped mid-stream.
            ProviderResponseError: the stream ended before ``message_stop``.
        """
        anthropic = _sdk()
        params = self._params(request)
        params["stream"] = True
        text: list[str] = []
        calls: list[dict[str, Any]] = []
        call_of_block: dict[int, int] = {}
        thinking: list[ThinkingBlock] = []
        thinking_of_block: dict[int, ThinkingBlock] = {}
        counts: dict[str, Any] = {}
        stop_reason: str | None = None
        stopped = False
        model = request.model
        received = 0
        try:
            events = await self.client.messages.create(**params)
            # Closed on every exit, a consumer that stops early included.
            async with events:
                async for event in events:
                    received += 1
                    kind = getattr(event, "type", None)
                    if kind == "message_start":
                        message = event.message
                        model = getattr(message, "model", None) or model
                        _update_counts(counts, getattr(message, "usage", None))
                    elif kind == "content_block_start":
                        block = event.content_block
                        part = thinking_part(block)
                        if part is not None:
                            thinking.append(part)
                            thinking_of_block[event.index] = part
                            if isinstance(part, ThinkingPart) and part.text:
                                yield ThinkingDelta(part.text)
                        elif getattr(block, "type", None) == "tool_use":
                            index = len(calls)
                            call_of_block[event.index] = index
                            start_input = getattr(block, "input", None)
                            calls.append(
                                {
                                    "id": block.id,
                                    "name": block.name,
                                    "arguments": "",
                                    "input": start_input,
                                }
                            )
                            yield ToolCallDelta(index, id=block.id, name=block.name, arguments="")
                        elif getattr(block, "type", None) == "text" and getattr(block, "text", ""):
                            text.append(block.text)
                            yield TextDelta(block.text)
                    elif kind == "content_block_delta":
                        delta = event.delta
                        delta_type = getattr(delta, "type", None)
                        part = thinking_of_block.get(event.index)
                        if delta_type == "text_delta" and delta.text:
                            text.append(delta.text)
                            yield TextDelta(delta.text)
                        elif delta_type == "thinking_delta" and isinstance(part, ThinkingPart):
                            piece = delta.thinking or ""
                            part.text += piece
                            if piece:
                                yield ThinkingDelta(piece)
                        elif delta_type == "signature_delta" and isinstance(part, ThinkingPart):
                            part.signature = (part.signature or "") + (delta.signature or "")
                        elif delta_type == "input_json_delta" and event.index in call_of_block:
                            index = call_of_block[event.index]
                            piece = delta.partial_json or ""
                            calls[index]["arguments"] += piece
                            if piece:
                                yield ToolCallDelta(index, arguments=piece)
                    elif kind == "message_delta":
                        reason = getattr(event.delta, "stop_reason", None)
                        stop_reason = reason or stop_reason
                        _update_counts(counts, getattr(event, "usage", None))
                    elif kind == "message_stop":
                        stopped = True
        except (anthropic.AnthropicError, ValueError) as exc:
            raise self._error(exc, request) from exc
        except TRANSPORT_ERRORS as exc:
            raise map_transport_error(
                exc, self.provider, request.model, wait=self._wait(request), pieces=received
            ) from exc
        if not stopped and stop_reason is None:
            raise ProviderResponseError(
                "the stream ended before the answer was complete (no message_stop)",
                provider=self.provider,
                model=request.model,
            )
        yield LLMResponse(
            content="".join(text) if text else None,
            tool_calls=[
                ToolCall(id=call["id"], name=call["name"], arguments=_arguments(call))
                for call in calls
            ],
            finish_reason=finish_reason(stop_reason),
            usage=anthropic_usage(counts) if counts else Usage(),
            model=model,
            provider=self.provider,
            thinking_blocks=thinking,
        )

    async def request_structured(
        self, request: LLMRequest, response_model: type[T], max_retries: int
    ) -> tuple[T, LLMResponse]:
        """A validated ``response_model`` instance through instructor (tool-use mode).

        Instructor forces one tool named after ``response_model`` and
        validates its ``input``; an answer that does not validate is sent
        back with the errors, up to ``max_retries`` more times. The returned
        response is the last answer, with the usage of all of them.
        """
        anthropic = _sdk()
        import instructor

        if self._instructor is None:
            # Mode.TOOLS with from_anthropic: instructor 1.17 deprecates
            # Mode.ANTHROPIC_TOOLS (a DeprecationWarning) for the generic modes.
            self._instructor = instructor.from_anthropic(self.client, mode=instructor.Mode.TOOLS)
        params = self._params(request, for_structured=True)
        messages = params.pop("messages")
        return await instructor_create(
            self._instructor,
            sdk=anthropic,
            provider=self.provider,
            model=request.model,
            response_model=response_model,
            messages=messages,
            max_retries=max_retries,
            params=params,
            parse=lambda answer: parse_message(answer, self.provider, request.model),
            usage_of=anthropic_usage,
        )


def _update_counts(counts: dict[str, Any], usage: Any) -> None:
    """Take the usage fields a stream event sets (``message_delta``'s are cumulative)."""
    if usage is None:
        return
    for key in (
        "input_tokens",
        "output_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
        "cache_creation",
        "output_tokens_details",
    ):
        value = getattr(usage, key, None)
        if value is not None:
            counts[key] = value


def _arguments(call: dict[str, Any]) -> str:
    if call["arguments"]:
        return call["arguments"]
    if call["input"]:
        return json.dumps(call["input"])
    return "{}"
