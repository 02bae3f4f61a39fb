"""The offline :class:`FunctionModel`: each answer computed by your function."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from llmgine.models.interface import Model
from llmgine.models.offline import OfflineModel, preview, resolve
from llmgine.models.request import LLMRequest
from llmgine.models.response import (
    LLMResponse,
    StreamChunk,
    TextDelta,
    ThinkingDelta,
    ThinkingPart,
    ToolCallDelta,
)
from llmgine.models.retry import RetryPolicy
from llmgine.tools.tool_call import ToolCall

__all__ = ["CallInfo", "FunctionModel", "ReplyFunction"]


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
    * an :class:`~llmgine.models.response.LLMResponse` - used as it is (usage is
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
    iterable of ``str`` and :class:`~llmgine.models.response.ToolCallDelta`
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
        retry: Retry policy (see :class:`~llmgine.models.retry.RetryPolicy`).
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

    async def request(self, request: LLMRequest) -> LLMResponse:
        """``fn``'s answer (or ``stream_fn``'s pieces, collected)."""
        if self.fn is None:
            final: LLMResponse | None = None
            async for chunk in self._streamed(request, stream=False):
                if isinstance(chunk, LLMResponse):
                    final = chunk
            assert final is not None  # _streamed always ends with a response
            return final
        info = self._info(request, stream=False)
        await self._wait(request)
        value = await resolve(self.fn(list(request.messages), info))
        return self._coerce(value, request, "FunctionModel's fn")

    async def request_stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        """``stream_fn``'s pieces one by one (or ``fn``'s whole answer as one piece)."""
        if self.stream_fn is None:
            # The base class default: fn's whole answer as one piece.
            async for chunk in Model.request_stream(self, request):
                yield chunk
            return
        async for chunk in self._streamed(request, stream=True):
            yield chunk

    async def _streamed(self, request: LLMRequest, stream: bool) -> AsyncIterator[StreamChunk]:
        assert self.stream_fn is not None
        info = self._info(request, stream=stream)
        await self._wait(request)
        pieces = await resolve(self.stream_fn(list(request.messages), info))
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
