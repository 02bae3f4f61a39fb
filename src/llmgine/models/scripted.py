"""The offline :class:`ScriptedModel`: replies played back in order, requests recorded."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from llmgine.errors import LLMgineError
from llmgine.models.offline import OfflineModel, preview, resolve
from llmgine.models.request import LLMRequest
from llmgine.models.response import LLMResponse, content_text
from llmgine.models.retry import RetryPolicy
from llmgine.tools.tool_call import ToolCall

__all__ = ["ScriptExhaustedError", "ScriptedModel", "UnusedRepliesError"]


class ScriptExhaustedError(LLMgineError, AssertionError):
    """A :class:`ScriptedModel` was called after its last reply was used.

    It is an ``AssertionError`` too, so a test that calls the model more often
    than scripted fails like a failed ``assert``. It is not a
    :class:`~llmgine.errors.ProviderError`: it is never retried.
    """


class UnusedRepliesError(LLMgineError, AssertionError):
    """:meth:`ScriptedModel.assert_complete` found replies that were never used."""


class ScriptedModel(OfflineModel):
    """A model that plays back scripted replies in order, and records what it was asked.

    Each reply is used by one call (one ``generate``, one ``stream``, or one
    try of a structured-output repair loop) and may be:

    * a ``str`` - the answer text;
    * a :class:`~llmgine.tools.tool_call.ToolCall` or a list of them;
    * an :class:`~llmgine.models.response.LLMResponse` (usage is estimated when it has none);
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
        retry: Retry policy (see :class:`~llmgine.models.retry.RetryPolicy`).
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

    async def request(self, request: LLMRequest) -> LLMResponse:
        """The next scripted reply (raised, when it is an exception)."""
        self.requests.append(request.copy())
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
            reply = await resolve(reply(list(request.messages)))
        if isinstance(reply, BaseException):
            raise reply
        return self._coerce(reply, request, f"{self!r} reply {number}")
