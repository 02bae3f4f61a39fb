"""Retries, pricing and the LLM events around any model: :class:`InstrumentedModel`.

``get_model()`` returns its models wrapped in one (no events: nothing to send
them to); an engine wraps its model again with its bus as the event sink
(:func:`instrument`). Every attempt is an :class:`~llmgine.models.events.LLMCallEvent`
and an :class:`~llmgine.models.events.LLMResponseEvent`, built only when the
sink would deliver them to someone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from llmgine.errors import ProviderError, ProviderResponseError
from llmgine.messages.sink import EventSink
from llmgine.messages.trace import current_session, new_id
from llmgine.models.events import LLMCallEvent, LLMResponseEvent
from llmgine.models.interface import Model
from llmgine.models.request import LLMRequest
from llmgine.models.response import LLMResponse, StreamChunk, Usage
from llmgine.models.retry import RetryPolicy

__all__ = ["InstrumentedModel", "instrument"]

T = TypeVar("T")

_PARAMETERS = ("tool_choice", "temperature", "max_completion_tokens", "response_format")


class InstrumentedModel(Model):
    """A model with retries (its ``retry`` policy), prices and one event per attempt fact.

    429, 5xx, timeouts and connection errors are retried with backoff; a
    failure that is given up on says how many attempts were made, over how
    long, and the wrapped model's :meth:`~Model.failure_hint`. A stream is
    retried only before its first piece. Attributes it does not have itself
    (``spec``, ``base_url``, ``missing_key``...) are the wrapped model's.

    Args:
        wrapped: The model to call.
        events: Where the LLM events go (an engine's bus); None sends none.
        retry: The retry policy (default: the wrapped model's).
    """

    def __init__(
        self,
        wrapped: Model,
        *,
        events: EventSink | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.wrapped = wrapped
        self.events = events
        self.retry = retry or wrapped.retry
        self.provider = wrapped.provider
        self.name = wrapped.name

    # -- what it is: the wrapped model's -------------------------------------------

    @property
    def timeout(self) -> float | None:
        """Seconds per attempt (the wrapped model's, set through here too)."""
        return self.wrapped.timeout

    @timeout.setter
    def timeout(self, value: float | None) -> None:
        self.wrapped.timeout = value

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes this class does not have.
        if name == "wrapped":
            raise AttributeError(name)
        return getattr(self.wrapped, name)

    def __repr__(self) -> str:
        return repr(self.wrapped)

    def price(self, usage: Usage) -> float | None:
        """The wrapped model's price."""
        return self.wrapped.price(usage)

    def failure_hint(self, error: ProviderError) -> str | None:
        """The wrapped model's hint."""
        return self.wrapped.failure_hint(error)

    async def aclose(self) -> None:
        """Close the wrapped model."""
        await self.wrapped.aclose()

    # -- the calls -------------------------------------------------------------------

    async def request(self, request: LLMRequest) -> LLMResponse:
        """One call, with retries and events."""
        _, response = await self._attempts(request, False, lambda: self._pair(request))
        return response

    async def request_structured(
        self, request: LLMRequest, response_model: type[T], max_retries: int
    ) -> tuple[T, LLMResponse]:
        """One structured call (its validation repairs inside one attempt), with retries."""
        return await self._attempts(
            request,
            False,
            lambda: self.wrapped.request_structured(request, response_model, max_retries),
        )

    async def request_stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        """One streamed call; a failure before the first piece is retried, after it raised."""
        call = _Call(self, request, stream=True)
        for attempt in range(1, self.retry.max_attempts + 1):
            await call.started(attempt)
            yielded = False
            try:
                async for chunk in self.wrapped.request_stream(request):
                    if isinstance(chunk, LLMResponse):
                        await call.finished(self._priced(chunk))
                        yield chunk
                        return
                    yielded = True
                    yield chunk
            except Exception as exc:
                # A retry after pieces were yielded would repeat what the caller has.
                delay = None if yielded else call.retry_delay(exc)
                await call.failed(exc, delay)
                if delay is None:
                    call.gave_up(exc)
                    raise
                await asyncio.sleep(delay)
                continue
            error = ProviderResponseError(
                "the stream ended without a final response", provider=self.provider, model=self.name
            )
            await call.failed(error, None)
            raise error

    async def _pair(self, request: LLMRequest) -> tuple[LLMResponse, LLMResponse]:
        response = await self.wrapped.request(request)
        return response, response

    async def _attempts(
        self,
        request: LLMRequest,
        stream: bool,
        attempt_fn: Callable[[], Awaitable[tuple[T, LLMResponse]]],
    ) -> tuple[T, LLMResponse]:
        call = _Call(self, request, stream=stream)
        attempt = 0
        while True:
            attempt += 1
            await call.started(attempt)
            try:
                value, response = await attempt_fn()
            except Exception as exc:
                delay = call.retry_delay(exc)
                await call.failed(exc, delay)
                if delay is None:
                    call.gave_up(exc)
                    raise
                await asyncio.sleep(delay)
                continue
            await call.finished(self._priced(response))
            return value, response

    def _priced(self, response: LLMResponse) -> LLMResponse:
        if not response.provider:
            response.provider = self.provider
        if not response.model:
            response.model = self.name
        if response.cost_usd is None:
            response.cost_usd = self.price(response.usage)
        return response


class _Call:
    """The attempts of one call: their events, backoff and the give-up note."""

    __slots__ = (
        "attempt",
        "attempt_start",
        "call_id",
        "model",
        "request",
        "session_id",
        "started_at",
        "stream",
    )

    def __init__(self, model: InstrumentedModel, request: LLMRequest, *, stream: bool) -> None:
        self.model = model
        self.request = request
        self.stream = stream
        self.call_id = new_id()
        self.session_id = current_session()
        self.started_at = time.monotonic()
        self.attempt = 0
        self.attempt_start = self.started_at

    def _sink(self, event_type: type[Any]) -> EventSink | None:
        events = self.model.events
        if events is None or not events.has_handlers(event_type, self.session_id):
            return None
        return events

    async def started(self, attempt: int) -> None:
        self.attempt = attempt
        sink = self._sink(LLMCallEvent)
        if sink is not None:
            request = self.request
            parameters = {
                name: getattr(request, name)
                for name in _PARAMETERS
                if getattr(request, name) not in (None, "auto")
            }
            parameters.update(request.extra)
            await sink.publish(
                LLMCallEvent(
                    call_id=self.call_id,
                    provider=self.model.provider,
                    model=self.model.name,
                    attempt=attempt,
                    stream=self.stream,
                    messages=request.messages,
                    tools=[t.get("function", t).get("name", "?") for t in request.tools or []],
                    parameters=parameters,
                    session_id=self.session_id,
                )
            )
        self.attempt_start = time.monotonic()

    async def finished(self, response: LLMResponse) -> None:
        sink = self._sink(LLMResponseEvent)
        if sink is None:
            return
        await sink.publish(
            LLMResponseEvent(
                call_id=self.call_id,
                provider=self.model.provider,
                model=response.model,
                attempt=self.attempt,
                duration_s=time.monotonic() - self.attempt_start,
                content=response.content,
                tool_calls=list(response.tool_calls),
                finish_reason=response.finish_reason,
                usage=response.usage,
                cost_usd=response.cost_usd,
                thinking=response.thinking,
                session_id=self.session_id,
            )
        )

    async def failed(self, exc: Exception, delay: float | None) -> None:
        sink = self._sink(LLMResponseEvent)
        if sink is None:
            return
        await sink.publish(
            LLMResponseEvent(
                call_id=self.call_id,
                provider=self.model.provider,
                model=self.model.name,
                attempt=self.attempt,
                duration_s=time.monotonic() - self.attempt_start,
                error=f"{type(exc).__name__}: {exc}",
                status=getattr(exc, "status", None),
                will_retry=delay is not None,
                session_id=self.session_id,
            )
        )

    def retry_delay(self, exc: Exception) -> float | None:
        """Seconds to wait before retrying ``exc``, or None when it must be raised."""
        retry = self.model.retry
        if not isinstance(exc, ProviderError) or not exc.retryable:
            return None
        if self.attempt >= retry.max_attempts:
            return None
        delay = retry.delay(self.attempt, exc.retry_after)
        if time.monotonic() - self.started_at + delay > retry.max_elapsed:
            return None
        return delay

    def gave_up(self, exc: Exception) -> None:
        """Add the attempts, the time waited and a hint to a failure that might have passed."""
        if isinstance(exc, ProviderError) and exc.retryable:
            waited = time.monotonic() - self.started_at
            exc.note_attempts(self.attempt, waited, self.model.failure_hint(exc))


def instrument(model: Model, events: EventSink | None = None) -> InstrumentedModel:
    """``model`` with retries, pricing and its events sent to ``events``.

    An already instrumented model is wrapped afresh around the same inner
    model (its retry policy kept), so events never go out twice.
    """
    if isinstance(model, InstrumentedModel):
        if model.events is events:
            return model
        return InstrumentedModel(model.wrapped, events=events, retry=model.retry)
    return InstrumentedModel(model, events=events)
