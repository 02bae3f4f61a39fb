"""The model extension point: ``generate``, ``stream`` and structured output.

A :class:`Model` does what every model needs - bus events for every attempt,
retries, pricing, stream events - and leaves one call to the subclass:
:meth:`Model._complete` (and, optionally, :meth:`Model._stream` and
:meth:`Model._structured`). Provider-backed models and the offline models in
:mod:`llmgine.testing` are both built on it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from llmgine.errors import (
    ProviderError,
    ProviderResponseError,
    ProviderTimeoutError,
    StructuredOutputError,
)
from llmgine.llm.events import LLMCallEvent, LLMResponseEvent, LLMStreamEvent
from llmgine.llm.pricing import cost_usd
from llmgine.llm.providers.interface import LLMRequest
from llmgine.llm.response import (
    LLMResponse,
    StreamChunk,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    Usage,
)
from llmgine.llm.retry import RetryPolicy
from llmgine.messages.trace import current_session, new_id

__all__ = ["Messages", "Model"]

T = TypeVar("T")

#: A conversation in OpenAI chat format, or one user prompt as a string.
Messages = str | Sequence[dict[str, Any]]

_PARAMETERS = ("tool_choice", "temperature", "max_completion_tokens", "response_format")


def _as_messages(messages: Messages) -> list[dict[str, Any]]:
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    return [dict(message) for message in messages]


class Model(ABC):
    """A model that can be called: ``await model.generate(messages)``.

    Attributes:
        provider: Provider name (``"openai"``, ``"test"``, ...).
        name: Model id.
        retry: How failures that may pass are retried.
    """

    provider: str = ""
    name: str = ""

    def __init__(self, *, retry: RetryPolicy | None = None, timeout: float | None = None) -> None:
        self.retry = retry or RetryPolicy()
        self.timeout = timeout

    @property
    def model_string(self) -> str:
        """``"provider:model"``, the form ``get_model`` accepts (``"test"`` for ``test:test``)."""
        if not self.name or self.name == self.provider:
            return self.provider
        return f"{self.provider}:{self.name}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model_string!r})"

    async def aclose(self) -> None:  # noqa: B027 - optional: offline models hold nothing
        """Release network resources; the model can still be used afterwards."""

    async def __aenter__(self) -> Model:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- subclass hooks -----------------------------------------------------

    @abstractmethod
    async def _complete(self, request: LLMRequest) -> LLMResponse:
        """Make one attempt; raise ProviderError subclasses for failures."""

    async def _stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        """Make one streamed attempt. By default: the whole answer, cut into deltas."""
        response = await self._complete(request)
        if response.thinking:
            yield ThinkingDelta(response.thinking)
        if response.content:
            yield TextDelta(response.content)
        for index, call in enumerate(response.tool_calls):
            yield ToolCallDelta(index, id=call.id, name=call.name, arguments=call.arguments)
        yield response

    async def _structured(
        self, request: LLMRequest, response_model: type[T], max_retries: int
    ) -> tuple[T, LLMResponse]:
        """Make one structured attempt. By default: ask for JSON, validate, repair.

        The schema goes in ``response_format``; a reply that does not validate
        is sent back with the validation errors, up to ``max_retries`` times.
        """
        from pydantic import TypeAdapter, ValidationError

        adapter: TypeAdapter[T] = TypeAdapter(response_model)
        schema = adapter.json_schema()
        # A copy: a retried attempt must start again from the caller's messages.
        request = dataclasses.replace(request)
        request.response_format = {
            "type": "json_schema",
            "json_schema": {
                "name": getattr(response_model, "__name__", "Answer"),
                "schema": schema,
            },
        }
        messages = list(request.messages)
        usage = Usage()
        last_error = ""
        for _ in range(max_retries + 1):
            request.messages = messages
            response = await self._complete(request)
            usage = usage + response.usage
            text = response.content or ""
            try:
                value = adapter.validate_json(text)
            except ValidationError as exc:
                last_error = str(exc)
                messages = [
                    *messages,
                    {"role": "assistant", "content": text},
                    {
                        "role": "user",
                        "content": "Your answer did not match the required JSON schema:\n"
                        f"{last_error}\nAnswer again with only JSON that matches "
                        f"this schema:\n{json.dumps(schema)}",
                    },
                ]
                continue
            response.usage = usage
            return value, response
        raise StructuredOutputError(
            f"no answer matched {getattr(response_model, '__name__', response_model)} after "
            f"{max_retries + 1} tries; last error: {last_error}",
            provider=self.provider,
            model=self.name,
        )

    # -- public API -----------------------------------------------------------

    def _request(
        self,
        messages: Messages,
        tools: list[dict[str, Any]] | None,
        tool_choice: Any,
        temperature: float | None,
        max_completion_tokens: int | None,
        response_format: dict[str, Any] | None,
        extra: dict[str, Any],
    ) -> LLMRequest:
        return LLMRequest(
            model=self.name,
            messages=_as_messages(messages),
            tools=tools or None,
            tool_choice=tool_choice,
            temperature=temperature,
            max_completion_tokens=max_completion_tokens,
            response_format=response_format,
            extra=extra,
            timeout=self.timeout,
        )

    async def generate(
        self,
        messages: Messages,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: Any = "auto",
        temperature: float | None = None,
        max_completion_tokens: int | None = None,
        response_format: dict[str, Any] | None = None,
        *,
        response_model: type[T] | None = None,
        max_validation_retries: int = 2,
        **provider_kwargs: Any,
    ) -> Any:
        """Call the model and return its :class:`LLMResponse`.

        With ``response_model`` (a pydantic model or any type pydantic
        validates), return a validated instance instead; usage is still
        reported in the :class:`~llmgine.llm.events.LLMResponseEvent`.

        Args:
            messages: OpenAI-format messages, or one user prompt as a string.
            tools: Tool schemas in the OpenAI function format.
            tool_choice: ``"auto"``, ``"none"``, ``"required"`` or a tool.
            temperature: Sampling temperature.
            max_completion_tokens: Output token limit.
            response_format: OpenAI ``response_format`` (JSON mode or schema).
            response_model: Type of a structured answer.
            max_validation_retries: Re-asks when a structured answer does not validate.
            **provider_kwargs: Passed to the provider as they are.

        Raises:
            ProviderError: the call failed (after the retries its kind allows).
            MissingAPIKeyError: the provider's key is not set.
        """
        request = self._request(
            messages,
            tools,
            tool_choice,
            temperature,
            max_completion_tokens,
            response_format,
            provider_kwargs,
        )
        if response_model is not None:
            value, _ = await self._structured_attempts(
                request, response_model, max_validation_retries
            )
            return value
        _, response = await self._attempts(request, lambda: self._paired(request))
        return response

    async def generate_structured(
        self,
        messages: Messages,
        response_model: type[T],
        *,
        max_validation_retries: int = 2,
        **kwargs: Any,
    ) -> tuple[T, LLMResponse]:
        """Like ``generate(..., response_model=...)`` but also return the :class:`LLMResponse`."""
        request = self._request(
            messages,
            kwargs.pop("tools", None),
            kwargs.pop("tool_choice", "auto"),
            kwargs.pop("temperature", None),
            kwargs.pop("max_completion_tokens", None),
            kwargs.pop("response_format", None),
            kwargs,
        )
        return await self._structured_attempts(request, response_model, max_validation_retries)

    async def _structured_attempts(
        self, request: LLMRequest, response_model: type[T], max_validation_retries: int
    ) -> tuple[T, LLMResponse]:
        return await self._attempts(
            request, lambda: self._structured(request, response_model, max_validation_retries)
        )

    async def _paired(self, request: LLMRequest) -> tuple[LLMResponse, LLMResponse]:
        response = await self._complete(request)
        return response, response

    async def stream(
        self,
        messages: Messages,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: Any = "auto",
        temperature: float | None = None,
        max_completion_tokens: int | None = None,
        response_format: dict[str, Any] | None = None,
        **provider_kwargs: Any,
    ) -> AsyncIterator[StreamChunk]:
        """Stream the answer: ``async for chunk in model.stream(messages): ...``.

        Yields :class:`TextDelta`, :class:`ThinkingDelta` and
        :class:`ToolCallDelta` pieces as they arrive, then the complete
        :class:`LLMResponse` (with usage and thinking blocks) last. Each piece
        is also published as an :class:`LLMStreamEvent`. A failure before the
        first piece is retried like ``generate``; after it, it is raised (a
        retry would repeat what the caller already has).
        """
        request = self._request(
            messages,
            tools,
            tool_choice,
            temperature,
            max_completion_tokens,
            response_format,
            provider_kwargs,
        )
        from llmgine.bus.bus import MessageBus

        bus = MessageBus()
        call_id = new_id()
        session_id = current_session()
        started = time.monotonic()
        for attempt in range(1, self.retry.max_attempts + 1):
            attempt_start = await self._call_started(
                bus, request, call_id, attempt, True, session_id
            )
            yielded = False
            try:
                async for chunk in self._stream(request):
                    if isinstance(chunk, LLMResponse):
                        await self._finished(
                            bus, call_id, attempt, attempt_start, chunk, session_id
                        )
                        yield chunk
                        return
                    yielded = True
                    if bus.has_handlers(LLMStreamEvent, session_id):
                        await bus.publish(self._stream_event(call_id, chunk, session_id))
                    yield chunk
            except Exception as exc:
                delay = None if yielded else self._retry_delay(exc, attempt, started)
                await self._failed(bus, call_id, attempt, attempt_start, exc, delay, session_id)
                if delay is None:
                    self._gave_up(exc, attempt, started)
                    raise
                await asyncio.sleep(delay)
                continue
            error = ProviderResponseError(
                "the stream ended without a final response",
                provider=self.provider,
                model=self.name,
            )
            await self._failed(bus, call_id, attempt, attempt_start, error, None, session_id)
            raise error

    # -- machinery ------------------------------------------------------------

    async def _attempts(
        self, request: LLMRequest, attempt_fn: Callable[[], Awaitable[tuple[T, LLMResponse]]]
    ) -> tuple[T, LLMResponse]:
        from llmgine.bus.bus import MessageBus

        bus = MessageBus()
        call_id = new_id()
        session_id = current_session()
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            attempt_start = await self._call_started(
                bus, request, call_id, attempt, False, session_id
            )
            try:
                value, response = await attempt_fn()
            except Exception as exc:
                delay = self._retry_delay(exc, attempt, started)
                await self._failed(bus, call_id, attempt, attempt_start, exc, delay, session_id)
                if delay is None:
                    self._gave_up(exc, attempt, started)
                    raise
                await asyncio.sleep(delay)
                continue
            await self._finished(bus, call_id, attempt, attempt_start, response, session_id)
            return value, response

    def _retry_delay(self, exc: Exception, attempt: int, started: float) -> float | None:
        """Seconds to wait before retrying ``exc``, or None when it must be raised."""
        if not isinstance(exc, ProviderError) or not exc.retryable:
            return None
        if attempt >= self.retry.max_attempts:
            return None
        delay = self.retry.delay(attempt, exc.retry_after)
        if time.monotonic() - started + delay > self.retry.max_elapsed:
            return None
        return delay

    def _gave_up(self, exc: Exception, attempts: int, started: float) -> None:
        """Add the attempts, the time waited and a hint to a failure that might have passed."""
        if isinstance(exc, ProviderError) and exc.retryable:
            exc.note_attempts(attempts, time.monotonic() - started, self.failure_hint(exc))

    def failure_hint(self, error: ProviderError) -> str | None:
        """What the user could do about ``error``, added to its message; None for nothing.

        Called for failures that might have passed (timeouts, connection and
        server errors, rate limits) once the retries are used up. Override it
        to point at your own set-up.
        """
        if isinstance(error, ProviderTimeoutError) and self.timeout:
            return (
                f"each attempt may take {self.timeout:g} s: allow longer with --timeout "
                "SECONDS (or timeout= in code)"
            )
        return None

    def price(self, usage: Usage) -> float | None:
        """USD cost of ``usage`` on this model, when its price is known."""
        return cost_usd(self.provider, self.name, usage)

    async def _call_started(
        self,
        bus: Any,
        request: LLMRequest,
        call_id: str,
        attempt: int,
        stream: bool,
        session_id: str,
    ) -> float:
        parameters = {
            name: getattr(request, name)
            for name in _PARAMETERS
            if getattr(request, name) not in (None, "auto")
        }
        parameters.update(request.extra)
        await bus.publish(
            LLMCallEvent(
                call_id=call_id,
                provider=self.provider,
                model=self.name,
                attempt=attempt,
                stream=stream,
                messages=request.messages,
                tools=[t.get("function", t).get("name", "?") for t in request.tools or []],
                parameters=parameters,
                session_id=session_id,
            )
        )
        return time.monotonic()

    async def _finished(
        self,
        bus: Any,
        call_id: str,
        attempt: int,
        attempt_start: float,
        response: LLMResponse,
        session_id: str,
    ) -> None:
        if not response.provider:
            response.provider = self.provider
        if not response.model:
            response.model = self.name
        if response.cost_usd is None:
            response.cost_usd = self.price(response.usage)
        await bus.publish(
            LLMResponseEvent(
                call_id=call_id,
                provider=self.provider,
                model=response.model,
                attempt=attempt,
                duration_s=time.monotonic() - attempt_start,
                content=response.content,
                tool_calls=list(response.tool_calls),
                finish_reason=response.finish_reason,
                usage=response.usage,
                cost_usd=response.cost_usd,
                thinking=response.thinking,
                session_id=session_id,
            )
        )

    async def _failed(
        self,
        bus: Any,
        call_id: str,
        attempt: int,
        attempt_start: float,
        exc: Exception,
        delay: float | None,
        session_id: str,
    ) -> None:
        await bus.publish(
            LLMResponseEvent(
                call_id=call_id,
                provider=self.provider,
                model=self.name,
                attempt=attempt,
                duration_s=time.monotonic() - attempt_start,
                error=f"{type(exc).__name__}: {exc}",
                status=getattr(exc, "status", None),
                will_retry=delay is not None,
                session_id=session_id,
            )
        )

    def _stream_event(self, call_id: str, chunk: StreamChunk, session_id: str) -> LLMStreamEvent:
        if isinstance(chunk, TextDelta):
            return LLMStreamEvent(
                call_id=call_id,
                provider=self.provider,
                model=self.name,
                text=chunk.text,
                session_id=session_id,
            )
        if isinstance(chunk, ThinkingDelta):
            return LLMStreamEvent(
                call_id=call_id,
                provider=self.provider,
                model=self.name,
                thinking=chunk.text,
                session_id=session_id,
            )
        assert isinstance(chunk, ToolCallDelta)
        return LLMStreamEvent(
            call_id=call_id,
            provider=self.provider,
            model=self.name,
            tool_call_index=chunk.index,
            tool_name=chunk.name,
            arguments=chunk.arguments,
            session_id=session_id,
        )
