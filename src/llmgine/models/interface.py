"""The model extension point: one wire format behind public ``request`` methods.

A :class:`Model` makes one attempt per call and knows nothing of the bus. A
model of your own implements :meth:`Model.request` (and, if it can do better
than the defaults, :meth:`Model.request_stream` and
:meth:`Model.request_structured`). Retries, pricing and the LLM events come
from :class:`~llmgine.models.instrumented.InstrumentedModel`, which wraps any
model: ``get_model()`` returns one, and engines wrap theirs with their bus.

``generate``, ``stream`` and ``generate_structured`` are the convenience
calls every model has: they build an :class:`LLMRequest` and make the call.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from llmgine.errors import ProviderError, ProviderTimeoutError, StructuredOutputError
from llmgine.models.pricing import cost_usd
from llmgine.models.request import LLMRequest, Messages, build_request
from llmgine.models.response import LLMResponse, StreamChunk, Usage, stream_of
from llmgine.models.retry import RetryPolicy

__all__ = ["Messages", "Model"]

T = TypeVar("T")


class Model(ABC):
    """A model that can be called: ``await model.generate(messages)``.

    Args:
        retry: How the instrumentation retries failures that may pass.
        timeout: Seconds each attempt may take (sent with every request).

    Attributes:
        provider: Provider name (``"openai"``, ``"test"``, ...).
        name: Model id.
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

    # -- the extension point: one attempt each -------------------------------------

    @abstractmethod
    async def request(self, request: LLMRequest) -> LLMResponse:
        """Make one attempt and return the whole answer.

        Raises:
            ProviderError: the attempt failed (a subclass says how; retryable
                ones are retried by the instrumentation).
        """

    async def request_stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        """Make one streamed attempt: deltas, then the complete :class:`LLMResponse` last.

        By default the whole answer of :meth:`request`, cut into one delta per part.
        """
        for chunk in stream_of(await self.request(request)):
            yield chunk

    async def request_structured(
        self, request: LLMRequest, response_model: type[T], max_retries: int
    ) -> tuple[T, LLMResponse]:
        """Return a validated ``response_model`` and the last answer (usage of all tries).

        By default: the JSON schema goes in ``response_format``; an answer that
        does not validate is sent back with the validation errors, up to
        ``max_retries`` more times.

        Raises:
            StructuredOutputError: no answer validated.
        """
        from pydantic import TypeAdapter, ValidationError

        adapter: TypeAdapter[T] = TypeAdapter(response_model)
        schema = adapter.json_schema()
        request = request.copy()  # the caller's request stays as it was
        request.response_format = {
            "type": "json_schema",
            "json_schema": {
                "name": getattr(response_model, "__name__", "Answer"),
                "schema": schema,
            },
        }
        usage = Usage()
        last_error = ""
        failed: list[dict[str, str]] = []
        for _ in range(max_retries + 1):
            response = await self.request(request)
            usage = usage + response.usage
            text = response.content or ""
            try:
                value = adapter.validate_json(text)
            except ValidationError as exc:
                last_error = str(exc)
                failed.append({"content": text, "error": last_error})
                request.messages = [
                    *request.messages,
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
            response.validation_retries = failed
            return value, response
        raise StructuredOutputError(
            f"no answer matched {getattr(response_model, '__name__', response_model)} after "
            f"{max_retries + 1} tries; last error: {last_error}",
            provider=self.provider,
            model=self.name,
        )

    def price(self, usage: Usage) -> float | None:
        """USD cost of ``usage`` on this model, when its price is known."""
        return cost_usd(self.provider, self.name, usage)

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

    # -- convenience calls ----------------------------------------------------------

    def build_request(self, messages: Messages, **parameters: Any) -> LLMRequest:
        """An :class:`LLMRequest` for this model (``generate``'s arguments)."""
        return build_request(self.name, messages, timeout=self.timeout, **parameters)

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
        validates), return a validated instance instead.

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
            ProviderError: the call failed (after the retries its kind allows,
                when the model is instrumented).
            MissingAPIKeyError: the provider's key is not set.
        """
        request = self.build_request(
            messages,
            tools=tools,
            tool_choice=tool_choice,
            temperature=temperature,
            max_completion_tokens=max_completion_tokens,
            response_format=response_format,
            **provider_kwargs,
        )
        if response_model is not None:
            value, _ = await self.request_structured(
                request, response_model, max_validation_retries
            )
            return value
        return await self.request(request)

    async def generate_structured(
        self,
        messages: Messages,
        response_model: type[T],
        *,
        max_validation_retries: int = 2,
        **parameters: Any,
    ) -> tuple[T, LLMResponse]:
        """Like ``generate(..., response_model=...)`` but also return the :class:`LLMResponse`."""
        request = self.build_request(messages, **parameters)
        return await self.request_structured(request, response_model, max_validation_retries)

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
        :class:`LLMResponse` (with usage and thinking blocks) last.
        """
        request = self.build_request(
            messages,
            tools=tools,
            tool_choice=tool_choice,
            temperature=temperature,
            max_completion_tokens=max_completion_tokens,
            response_format=response_format,
            **provider_kwargs,
        )
        async for chunk in self.request_stream(request):
            yield chunk
