"""Retries, pricing and the LLM events around any model: :class:`InstrumentedModel`.

``get_model()`` returns its models wrapped in one (no events: nothing to send
them to); an engine wraps its model again with its bus as the event sink
(:func:`instrument`). Every attempt is an :class:`~llmgine.models.events.LLMCallEvent`
and an :class:`~llmgine.models.events.LLMResponseEvent`, built only when the
sink would deliver them to someone.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import Token
from dataclasses import dataclass
from typing import Any, TypeVar

from llmgine.errors import ProviderError, ProviderResponseError
from llmgine.messages.sink import EventSink
from llmgine.messages.trace import current_message, current_session, new_id
from llmgine.models.events import LLMCallEvent, LLMResponseEvent
from llmgine.models.interface import Model
from llmgine.models.request import LLMRequest, message_hash, request_hash
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
        #: What it sent last (the log's prefix for the next call of the conversation).
        self.last_sent: _Sent | None = None
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
        _, response = await self._attempts(_Call(self, request), lambda: self._pair(request))
        return response

    async def request_structured(
        self, request: LLMRequest, response_model: type[T], max_retries: int
    ) -> tuple[T, LLMResponse]:
        """One structured call (its validation repairs inside one attempt), with retries."""
        call = _Call(self, request, response_model=response_model)
        return await self._attempts(
            call, lambda: self.wrapped.request_structured(request, response_model, max_retries)
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
            finally:
                call.leave()
            error = ProviderResponseError(
                "the stream ended without a final response", provider=self.provider, model=self.name
            )
            await call.failed(error, None)
            raise error

    async def _pair(self, request: LLMRequest) -> tuple[LLMResponse, LLMResponse]:
        response = await self.wrapped.request(request)
        return response, response

    async def _attempts(
        self, call: _Call, attempt_fn: Callable[[], Awaitable[tuple[T, LLMResponse]]]
    ) -> tuple[T, LLMResponse]:
        attempt = 0
        while True:
            attempt += 1
            await call.started(attempt)
            try:  # the attempt's events are children of its call event
                try:
                    value, response = await attempt_fn()
                except Exception as exc:
                    delay = call.retry_delay(exc)
                    await call.failed(exc, delay)
                    if delay is None:
                        call.gave_up(exc)
                        raise
                else:
                    await call.finished(self._priced(response))
                    return value, response
            finally:
                call.leave()
            await asyncio.sleep(delay)

    def _priced(self, response: LLMResponse) -> LLMResponse:
        if not response.provider:
            response.provider = self.provider
        if not response.model:
            response.model = self.name
        if response.cost_usd is None:
            response.cost_usd = self.price(response.usage)
        return response


@dataclass
class _Sent:
    """What a model sent last: the journal's prefix for its next call."""

    call_id: str
    messages: list[dict[str, Any]]
    hashes: list[str]
    tools: list[dict[str, Any]] | None


_sequence = itertools.count(1)


class _Call:
    """The attempts of one call: their events (nested in the trace), backoff, the give-up note."""

    def __init__(
        self,
        model: InstrumentedModel,
        request: LLMRequest,
        *,
        stream: bool = False,
        response_model: Any = None,
    ) -> None:
        self.model = model
        self.request = request
        self.stream = stream
        self.response_model = response_model
        self.call_id = new_id()
        self.session_id = current_session()
        self.started_at = time.monotonic()
        self.attempt = 0
        self.attempt_start = self.started_at
        self._journal: dict[str, Any] | None = None
        self._token: Token[tuple[str, str, str] | None] | None = None

    def _sink(self, event_type: type[Any]) -> EventSink | None:
        events = self.model.events
        if events is None or not events.has_handlers(event_type, self.session_id):
            return None
        return events

    async def started(self, attempt: int) -> None:
        self.attempt = attempt
        sink = self._sink(LLMCallEvent)
        if sink is not None:
            event = LLMCallEvent(
                call_id=self.call_id,
                provider=self.model.provider,
                model=self.model.name,
                attempt=attempt,
                stream=self.stream,
                tools=[t.get("function", t).get("name", "?") for t in self.request.tools or []],
                parameters=self._parameters(),
                session_id=self.session_id,
                **self._journal_fields(),
            )
            await sink.publish(event)
            # What happens during the attempt (its response) is the call's child.
            self._token = current_message.set(
                (event.event_id, event.trace_id or event.event_id, self.session_id)
            )
        self.attempt_start = time.monotonic()

    def leave(self) -> None:
        """The attempt is over: the call event is no longer the current message."""
        token, self._token = self._token, None
        if token is not None:
            try:
                current_message.reset(token)
            except ValueError:  # a stream closed from another context: nothing to undo
                pass

    def _parameters(self) -> dict[str, Any]:
        request = self.request
        parameters = {
            name: getattr(request, name)
            for name in _PARAMETERS
            if getattr(request, name) not in (None, "auto")
        }
        parameters.update(request.extra)
        return parameters

    def _journal_fields(self) -> dict[str, Any]:
        """The request as the log keeps it: what is new since the model's previous call."""
        if self._journal is not None:  # a retry sends what the first attempt sent
            return self._journal
        model, request = self.model, self.request
        messages = request.messages
        last = model.last_sent
        hashes: list[str] = []
        prefix = 0
        if last is not None:
            for old, new, digest in zip(last.messages, messages, last.hashes, strict=False):
                if old is not new and old != new:
                    break
                hashes.append(digest)
                prefix += 1
        hashes.extend(message_hash(message) for message in messages[prefix:])
        schema = _schema_of(self.response_model)
        model.last_sent = _Sent(self.call_id, list(messages), hashes, request.tools)
        same_tools = last is not None and prefix > 0 and last.tools == request.tools
        self._journal = {
            "messages": messages[prefix:],
            "prefix_call_id": last.call_id if last is not None and prefix else None,
            "prefix_messages": prefix,
            "tool_schemas": None if same_tools else request.tools,
            "response_schema": schema,
            "request_hash": request_hash(
                model.model_string, request, message_hashes=hashes, response_schema=schema
            ),
            "call_seq": next(_sequence),
        }
        return self._journal

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
                thinking_blocks=list(response.thinking_blocks),
                validation_retries=list(response.validation_retries),
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
                error_type=type(exc).__name__,
                status=getattr(exc, "status", None),
                retry_after=getattr(exc, "retry_after", None),
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


def _schema_of(response_model: Any) -> dict[str, Any] | None:
    if response_model is None:
        return None
    from pydantic import TypeAdapter

    schema: dict[str, Any] = TypeAdapter(response_model).json_schema()
    return schema


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
