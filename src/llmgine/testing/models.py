"""Offline models for tests and demos: no network, no API key, no cost.

* :class:`TestModel` - deterministic: calls every tool it is offered once with
  arguments valid for the tool's JSON schema, then sums up the tool results;
  answers structured-output requests with a valid instance of the type.
* :class:`FunctionModel` - each answer is computed by your function.
* :class:`ScriptedModel` - plays back a list of replies (texts, tool calls,
  responses, exceptions) and records the requests it received.

They are :class:`~llmgine.llm.models.interface.Model` subclasses, so
``generate``, ``stream`` and structured output behave as with a real model:
bus events for every attempt, retries of retryable
:class:`~llmgine.errors.ProviderError` s, usage on every response (estimated
from word counts) and, optionally, simulated latency::

    from llmgine.testing import ScriptedModel
    from llmgine.tools.tool_call import ToolCall

    model = ScriptedModel([
        ToolCall("call_1", "get_weather", '{"city": "Perth"}'),
        "It is 17 °C in Perth.",
    ])
    ...  # run the code under test with ``model``
    model.assert_complete()
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from llmgine.errors import LLMgineError, StructuredOutputError
from llmgine.llm.models.interface import Model
from llmgine.llm.models.offline import (
    OfflineModel,
    chosen_tool_name,
    current_turn,
    preview,
)
from llmgine.llm.models.schema_values import sample_value
from llmgine.llm.providers.interface import LLMRequest
from llmgine.llm.response import (
    LLMResponse,
    StreamChunk,
    TextDelta,
    ThinkingDelta,
    ThinkingPart,
    ToolCallDelta,
    content_text,
)
from llmgine.llm.retry import RetryPolicy
from llmgine.tools.tool_call import ToolCall

__all__ = [
    "CallInfo",
    "FunctionModel",
    "ScriptExhaustedError",
    "ScriptedModel",
    "TestModel",
    "UnusedRepliesError",
]

T = TypeVar("T")


class ScriptExhaustedError(LLMgineError, AssertionError):
    """A :class:`ScriptedModel` was called after its last reply was used.

    It is an ``AssertionError`` too, so a test that calls the model more often
    than scripted fails like a failed ``assert``. It is not a
    :class:`~llmgine.errors.ProviderError`: it is never retried.
    """


class UnusedRepliesError(LLMgineError, AssertionError):
    """:meth:`ScriptedModel.assert_complete` found replies that were never used."""


# -- helpers -------------------------------------------------------------------


def _snapshot(request: LLMRequest) -> LLMRequest:
    """A copy of ``request`` that later changes to the request do not affect."""
    return dataclasses.replace(
        request,
        messages=[dict(message) for message in request.messages],
        tools=list(request.tools) if request.tools is not None else None,
        extra=dict(request.extra),
    )


async def _resolve(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


async def _iterate(pieces: Any) -> AsyncIterator[Any]:
    if hasattr(pieces, "__aiter__"):
        async for piece in pieces:
            yield piece
    elif isinstance(pieces, Iterable) and not isinstance(pieces, str | bytes):
        for piece in pieces:
            yield piece
    else:
        raise TypeError(
            f"stream_fn must return an iterable or async iterable of str / ToolCallDelta, "
            f"got {type(pieces).__name__}"
        )


# -- TestModel ---------------------------------------------------------------------


class TestModel(OfflineModel):
    """A deterministic offline model that exercises tools and structured output.

    * Offered tools (and no tool results yet since the last user message), it
      calls each tool once, with arguments built from the tool's JSON schema:
      ``"a"`` for strings, the first ``enum`` value, ``const``, ``0`` or the
      minimum for numbers, ``false``, one-item arrays (or ``minItems``),
      required properties of objects, the first non-null ``anyOf`` option and
      ``default`` values where given. Ids are ``call_test_1``, ``call_test_2``...
      (numbered across the conversation); finish reason ``"tool_calls"``.
    * Once tool results follow the last user message, it sums them up:
      ``"Tool results: get_weather: 17 °C; get_time: 12:00"``.
    * Otherwise it answers ``text`` (or a fixed sentence); with a
      ``response_format`` JSON schema, a JSON value valid for it.
    * ``generate(..., response_model=X)`` returns a valid ``X`` built the same way.

    Usage is estimated from word counts; the cost is 0.

    Args:
        text: The answer when there is nothing else to say (default: a sentence
            explaining that this is the offline model).
        call_tools: ``True`` calls every tool offered, ``False`` none, a list
            of names only those. A ``tool_choice`` naming one tool calls it;
            ``tool_choice="none"`` calls none.
        latency: Seconds to wait before each answer (simulated latency). When
            it exceeds ``timeout``, the call fails with
            :class:`~llmgine.errors.ProviderTimeoutError` after ``timeout`` seconds.
        seed: Varies the generated values (``seed=1`` gives ``"b"`` and ``1``
            where ``seed=0`` gives ``"a"`` and ``0``).
        name: The model id reported in responses and events.
        retry: Retry policy (see :class:`~llmgine.llm.retry.RetryPolicy`).
        timeout: Seconds per attempt.

    Example:
        >>> import asyncio
        >>> asyncio.run(TestModel(text="hi").generate("hello")).content
        'hi'
    """

    __test__ = False  # not a pytest test class, whatever its name
    provider = "test"

    #: The answer when there are no tools to call and no ``text`` was given.
    DEFAULT_TEXT: ClassVar[str] = (
        "This is a reply from the offline TestModel; set an API key or choose a model "
        "with --model to talk to a real one."
    )

    def __init__(
        self,
        *,
        text: str | None = None,
        call_tools: bool | Sequence[str] = True,
        latency: float = 0.0,
        seed: int = 0,
        name: str = "test",
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> None:
        super().__init__(name=name, latency=latency, retry=retry, timeout=timeout)
        if isinstance(call_tools, str):
            raise TypeError("call_tools must be True, False or a list of tool names")
        self.text = text
        self.call_tools: bool | list[str] = (
            call_tools if isinstance(call_tools, bool) else list(call_tools)
        )
        self.seed = seed

    def _tools_to_call(self, request: LLMRequest) -> list[dict[str, Any]]:
        tools = [tool.get("function", tool) for tool in request.tools or []]
        if request.tool_choice == "none":
            return []
        forced = chosen_tool_name(request.tool_choice)
        if forced is not None:
            return [tool for tool in tools if tool.get("name") == forced]
        if self.call_tools is True:
            return tools
        if self.call_tools is False:
            return []
        return [tool for tool in tools if tool.get("name") in self.call_tools]

    def _tool_call(self, tool: dict[str, Any], number: int) -> ToolCall:
        name = str(tool.get("name", ""))
        schema = tool.get("parameters") or {"type": "object", "properties": {}}
        try:
            arguments = sample_value(schema, self.seed)
        except ValueError as exc:
            raise ValueError(f"TestModel cannot build arguments for tool {name!r}: {exc}") from exc
        if not isinstance(arguments, dict):
            arguments = {}
        return ToolCall(
            id=f"call_test_{number}",
            name=name,
            arguments=json.dumps(arguments, ensure_ascii=False),
        )

    @staticmethod
    def _summary(messages: Sequence[dict[str, Any]], results: list[dict[str, Any]]) -> str:
        names: dict[str, str] = {}
        for message in messages:
            for call in message.get("tool_calls") or []:
                if isinstance(call, dict):
                    function = call.get("function", call)
                    names[str(call.get("id"))] = str(function.get("name", "tool"))
        parts = []
        for result in results:
            name = result.get("name") or names.get(str(result.get("tool_call_id")), "tool")
            parts.append(f"{name}: {content_text(result.get('content')).strip()}")
        return "Tool results: " + "; ".join(parts)

    def _json_answer(self, response_format: Any) -> str | None:
        if not isinstance(response_format, dict):
            return None
        if response_format.get("type") == "json_schema":
            spec = response_format.get("json_schema") or {}
            schema = spec.get("schema", {}) if isinstance(spec, dict) else {}
            return json.dumps(sample_value(schema, self.seed), ensure_ascii=False)
        if response_format.get("type") == "json_object":
            return "{}"
        return None

    async def _complete(self, request: LLMRequest) -> LLMResponse:
        await self._wait(request)
        messages = request.messages
        turn = current_turn(messages)
        results = [message for message in turn if message.get("role") == "tool"]
        tools = self._tools_to_call(request)
        if tools and not results:
            earlier = sum(
                len(message.get("tool_calls") or [])
                for message in messages
                if message.get("role") == "assistant"
            )
            calls = [self._tool_call(tool, earlier + n) for n, tool in enumerate(tools, 1)]
            return self._response(request, tool_calls=calls)
        content = self._json_answer(request.response_format)
        if content is None:
            if results:
                content = self._summary(messages, results)
            else:
                content = self.text if self.text is not None else self.DEFAULT_TEXT
        return self._response(request, content=content)

    async def _structured(
        self, request: LLMRequest, response_model: type[T], max_retries: int
    ) -> tuple[T, LLMResponse]:
        """Build a valid ``response_model`` instance from its JSON schema (no repair loop)."""
        from pydantic import TypeAdapter, ValidationError

        type_name = getattr(response_model, "__name__", str(response_model))
        adapter: TypeAdapter[T] = TypeAdapter(response_model)
        await self._wait(request)
        try:
            text = json.dumps(sample_value(adapter.json_schema(), self.seed), ensure_ascii=False)
            value = adapter.validate_json(text)
        except (ValueError, ValidationError) as exc:
            # ValidationError is a ValueError; both mean the schema beat the generator.
            raise StructuredOutputError(
                f"TestModel could not build a valid {type_name}: {exc}",
                provider=self.provider,
                model=self.name,
            ) from exc
        return value, self._response(request, content=text)


# -- FunctionModel --------------------------------------------------------------


@dataclass
class CallInfo:
    """What a :class:`FunctionModel` function is told besides the messages.

    Attributes:
        request: The whole request (``tool_choice``, ``response_format``, ...).
        model: The :class:`FunctionModel` being called.
        index: How many calls the model had before this one (0 for the first).
        stream: Whether the answer is being streamed.
    """

    request: LLMRequest
    model: FunctionModel
    index: int
    stream: bool = False

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The tool schemas offered (OpenAI function format), possibly empty."""
        return list(self.request.tools or [])

    @property
    def tool_names(self) -> list[str]:
        """The names of the tools offered."""
        return [str(tool.get("function", tool).get("name", "")) for tool in self.tools]


#: ``fn(messages, info)`` of a :class:`FunctionModel` (sync or async).
ReplyFunction = Callable[[list[dict[str, Any]], CallInfo], Any]


class FunctionModel(OfflineModel):
    """A model whose answers your function computes: full control in tests.

    ``fn(messages, info)`` gets the conversation (OpenAI format) and a
    :class:`CallInfo` (``info.tools``, ``info.request``, ``info.index``) and
    returns, or awaits to, one of:

    * a ``str`` - the answer text (finish reason ``"stop"``);
    * a :class:`~llmgine.tools.tool_call.ToolCall` or a list of them -
      tool calls (finish reason ``"tool_calls"``);
    * an :class:`~llmgine.llm.response.LLMResponse` - used as it is (usage is
      estimated when it has none).

    To simulate a provider failure, raise the error a provider would raise;
    retryable ones are retried by the model's ``retry`` policy like real ones::

        from llmgine.errors import ProviderRateLimitError

        def flaky(messages, info):
            if info.index == 0:
                raise ProviderRateLimitError("slow down", provider="function",
                                             model="function", status=429)
            return "ok"

    ``stream_fn(messages, info)`` (optional) returns an iterable or async
    iterable of ``str`` and :class:`~llmgine.llm.response.ToolCallDelta`
    pieces, streamed one by one by ``model.stream()``; the final response is
    assembled from them (or is the :class:`LLMResponse` it yields, if it does).
    Without it, ``stream()`` sends ``fn``'s whole answer as one piece. Without
    ``fn``, ``generate()`` collects ``stream_fn``'s pieces.

    Args:
        fn: Computes each answer.
        stream_fn: Computes each streamed answer.
        name: The model id reported in responses and events.
        latency: Seconds to wait before each answer (simulated latency); past
            ``timeout`` the call fails with a ProviderTimeoutError.
        retry: Retry policy (see :class:`~llmgine.llm.retry.RetryPolicy`).
        timeout: Seconds per attempt.

    Attributes:
        calls: How many calls were made.
    """

    provider = "function"

    def __init__(
        self,
        fn: ReplyFunction | None = None,
        *,
        stream_fn: ReplyFunction | None = None,
        name: str = "function",
        latency: float = 0.0,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> None:
        super().__init__(name=name, latency=latency, retry=retry, timeout=timeout)
        if fn is None and stream_fn is None:
            raise TypeError("FunctionModel needs fn, stream_fn or both")
        for label, value in (("fn", fn), ("stream_fn", stream_fn)):
            if value is not None and not callable(value):
                raise TypeError(f"{label} must be callable, got {type(value).__name__}")
        self.fn = fn
        self.stream_fn = stream_fn
        self.calls = 0

    def _info(self, request: LLMRequest, stream: bool) -> CallInfo:
        info = CallInfo(request=request, model=self, index=self.calls, stream=stream)
        self.calls += 1
        return info

    async def _complete(self, request: LLMRequest) -> LLMResponse:
        if self.fn is None:
            final: LLMResponse | None = None
            async for chunk in self._streamed(request, stream=False):
                if isinstance(chunk, LLMResponse):
                    final = chunk
            assert final is not None  # _streamed always ends with a response
            return final
        info = self._info(request, stream=False)
        await self._wait(request)
        value = await _resolve(self.fn(list(request.messages), info))
        return self._coerce(value, request, "FunctionModel's fn")

    async def _stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        if self.stream_fn is None:
            # The base class default: fn's whole answer as one piece.
            async for chunk in Model._stream(self, request):
                yield chunk
            return
        async for chunk in self._streamed(request, stream=True):
            yield chunk

    async def _streamed(self, request: LLMRequest, stream: bool) -> AsyncIterator[StreamChunk]:
        assert self.stream_fn is not None
        info = self._info(request, stream=stream)
        await self._wait(request)
        pieces = await _resolve(self.stream_fn(list(request.messages), info))
        text: list[str] = []
        thinking: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        async for piece in _iterate(pieces):
            if isinstance(piece, LLMResponse):
                yield self._coerce(piece, request, "FunctionModel's stream_fn")
                return
            if isinstance(piece, str):
                if not piece:
                    continue
                piece = TextDelta(piece)
            if isinstance(piece, TextDelta):
                text.append(piece.text)
            elif isinstance(piece, ThinkingDelta):
                thinking.append(piece.text)
            elif isinstance(piece, ToolCallDelta):
                call = calls.setdefault(
                    piece.index, {"id": f"call_function_{piece.index + 1}", "name": ""}
                )
                call["id"] = piece.id or call["id"]
                call["name"] = piece.name or call["name"]
                call["arguments"] = call.get("arguments", "") + piece.arguments
            else:
                raise TypeError(
                    f"FunctionModel's stream_fn gave {preview(piece)} "
                    f"({type(piece).__name__}); expected str, TextDelta, ThinkingDelta or "
                    "ToolCallDelta"
                )
            yield piece
        tool_calls = [
            ToolCall(id=call["id"], name=call["name"], arguments=call.get("arguments") or "{}")
            for _, call in sorted(calls.items())
        ]
        response = self._response(request, content="".join(text) or None, tool_calls=tool_calls)
        if thinking:
            response.thinking_blocks = [ThinkingPart("".join(thinking))]
        yield response


# -- ScriptedModel --------------------------------------------------------------


class ScriptedModel(OfflineModel):
    """A model that plays back scripted replies in order, and records what it was asked.

    Each reply is used by one call (one ``generate``, one ``stream``, or one
    try of a structured-output repair loop) and may be:

    * a ``str`` - the answer text;
    * a :class:`~llmgine.tools.tool_call.ToolCall` or a list of them;
    * an :class:`~llmgine.llm.response.LLMResponse` (usage is estimated when it has none);
    * an exception instance - raised by that call, e.g.
      ``ProviderServerError("down", provider="scripted", model="scripted", status=503)``
      (retryable errors are retried, using the next reply);
    * a callable ``reply(messages)`` (sync or async) returning any of these.

    ``stream()`` sends a text answer word by word.

    Args:
        replies: The replies, in order.
        name: The model id reported in responses and events.
        latency: Seconds to wait before each answer (simulated latency); past
            ``timeout`` the call fails with a ProviderTimeoutError.
        retry: Retry policy (see :class:`~llmgine.llm.retry.RetryPolicy`).
        timeout: Seconds per attempt.

    Attributes:
        requests: Every request received, in order (copies, as they were sent).

    Raises:
        TypeError: a reply is none of the kinds above.
    """

    provider = "scripted"

    def __init__(
        self,
        replies: Iterable[Any],
        *,
        name: str = "scripted",
        latency: float = 0.0,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> None:
        super().__init__(name=name, latency=latency, retry=retry, timeout=timeout)
        if isinstance(replies, str | LLMResponse | ToolCall | BaseException):
            raise TypeError("replies must be a list of replies, e.g. ScriptedModel(['hello'])")
        self._replies: list[Any] = list(replies)
        for number, reply in enumerate(self._replies, 1):
            self._check(reply, number)
        self._used = 0
        self.requests: list[LLMRequest] = []

    @staticmethod
    def _check(reply: Any, number: int) -> None:
        if isinstance(reply, type) and issubclass(reply, BaseException):
            raise TypeError(
                f"reply {number} is the exception class {reply.__name__}; script an instance, "
                f"e.g. {reply.__name__}(...)"
            )
        if isinstance(reply, LLMResponse | str | ToolCall | BaseException) or callable(reply):
            return
        calls = isinstance(reply, list | tuple) and bool(reply)
        if calls and all(isinstance(call, ToolCall) for call in reply):
            return
        raise TypeError(
            f"reply {number} is {preview(reply)} ({type(reply).__name__}); expected a str, "
            "a ToolCall, a non-empty list of ToolCalls, an LLMResponse, an exception "
            "instance or a callable"
        )

    @property
    def remaining(self) -> int:
        """How many replies are still unused."""
        return len(self._replies) - self._used

    def assert_complete(self) -> None:
        """Check that every scripted reply was used.

        Raises:
            UnusedRepliesError: some replies were never used (the message says how many).
        """
        if self.remaining:
            noun = "reply was" if self.remaining == 1 else "replies were"
            raise UnusedRepliesError(
                f"{self!r}: {self.remaining} of {len(self._replies)} scripted {noun} not "
                f"used (the model was called {len(self.requests)} times); next unused: "
                f"{preview(self._replies[self._used])}"
            )

    async def _complete(self, request: LLMRequest) -> LLMResponse:
        self.requests.append(_snapshot(request))
        if self._used >= len(self._replies):
            last = request.messages[-1] if request.messages else {}
            raise ScriptExhaustedError(
                f"{self!r} ran out of replies: call {len(self.requests)} has no reply (the "
                f"script has {len(self._replies)}). Last message: "
                f"{preview(content_text(last.get('content')))}"
            )
        number = self._used + 1
        reply = self._replies[self._used]
        self._used += 1
        await self._wait(request)
        if callable(reply) and not isinstance(reply, BaseException):
            reply = await _resolve(reply(list(request.messages)))
        if isinstance(reply, BaseException):
            raise reply
        return self._coerce(reply, request, f"{self!r} reply {number}")
