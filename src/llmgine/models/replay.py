"""Answering a model's requests from an event log: :class:`ReplayModel`.

Every model call of a run is in its log: the request's hash (taken before
anything was redacted), each attempt, and each attempt's answer or error. A
``ReplayModel`` stands in for one of the run's models and answers a request
with what was recorded for the same request, matched by hash, not by position
(so parallel calls may come in any order). A request the log does not hold is
a :class:`ReplayMismatchError` with a diff against the nearest recorded one.
Recorded errors are raised again, so retry paths replay too, without waiting.
"""

from __future__ import annotations

import difflib
import json
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any, TypeVar

import llmgine.errors as errors
from llmgine.errors import ProviderError
from llmgine.models.interface import Model
from llmgine.models.request import LLMRequest, request_hash
from llmgine.models.response import (
    LLMResponse,
    RedactedThinkingPart,
    StreamChunk,
    TextDelta,
    ThinkingBlock,
    ThinkingDelta,
    ThinkingPart,
    Usage,
    stream_of,
)
from llmgine.models.retry import RetryPolicy
from llmgine.observability.journal import Entry, Journal
from llmgine.tools.tool_call import ToolCall

__all__ = ["ReplayMismatchError", "ReplayModel", "UnplayedRecordingsError"]

T = TypeVar("T")

#: No waiting between replayed attempts; as many as a recording may hold.
_REPLAY_RETRY = RetryPolicy(max_attempts=20, initial_delay=0.0, max_delay=0.0, jitter=0.0)
_DIFF_LINES = 40
#: The engine events a streamed answer's deltas were logged as (children of the call).
_DELTA_EVENTS: dict[str, type[TextDelta] | type[ThinkingDelta]] = {
    "EngineTextDeltaEvent": TextDelta,
    "EngineThinkingDeltaEvent": ThinkingDelta,
}


class ReplayMismatchError(ProviderError):
    """A replayed model was asked something its log does not hold (the message shows a diff)."""


class UnplayedRecordingsError(errors.LLMgineError, AssertionError):
    """:meth:`ReplayModel.assert_complete` found recorded calls that were never asked for."""


class _Recorded:
    """One recorded call: its request, and the attempts still to be played."""

    def __init__(
        self, call: Entry, attempts: list[tuple[Entry, Entry | None]], journal: Journal
    ) -> None:
        self.call = call
        self.attempts = deque(attempts)
        self.journal = journal

    def messages(self) -> list[dict[str, Any]]:
        try:
            return self.journal.request_messages(self.call)
        except KeyError:
            return list(self.call.get("messages") or [])


class ReplayModel(Model):
    """A model that answers from a recorded run (see :meth:`from_log`).

    Args:
        journal: The log.
        provider: The recorded model's provider.
        name: The recorded model's id.
        strict: Raise :class:`ReplayMismatchError` for a request the log does
            not hold; with False, ask ``fallback`` instead.
        fallback: The model asked when ``strict`` is False (None: still an error).
    """

    def __init__(
        self,
        journal: Journal,
        *,
        provider: str,
        name: str,
        strict: bool = True,
        fallback: Model | None = None,
    ) -> None:
        super().__init__(retry=_REPLAY_RETRY)
        self.provider = provider
        self.name = name
        self.journal = journal
        self.strict = strict
        self.fallback = fallback
        self._pending: dict[str, deque[_Recorded]] = defaultdict(deque)
        self._recorded: list[_Recorded] = []
        for call in journal.calls():
            if (call.get("provider"), call.get("model")) != (provider, name):
                continue
            recorded = _Recorded(call, journal.attempts(str(call.get("call_id"))), journal)
            self._recorded.append(recorded)
            self._pending[str(call.get("request_hash") or "")].append(recorded)

    @classmethod
    def from_log(
        cls,
        paths: str | Path | Iterable[str | Path],
        *,
        model: str | None = None,
        strict: bool = True,
        fallback: Model | None = None,
    ) -> ReplayModel:
        """The replay of one model of a logged run.

        Args:
            paths: The log file, or its parts (or several runs).
            model: Which recorded model (``"provider:model"``); needed when the
                log holds calls of several.
            strict: See :class:`ReplayModel`.
            fallback: See :class:`ReplayModel`.

        Raises:
            ConfigurationError: the log holds no model calls, or several models
                and ``model`` does not say which (the message lists them).
        """
        files = [paths] if isinstance(paths, str | Path) else list(paths)
        journal = Journal.read(files)
        recorded = sorted({_model_string(call) for call in journal.calls()})
        if model is None:
            if len(recorded) != 1:
                listed = ", ".join(recorded) or "none"
                raise errors.ConfigurationError(
                    f"the log holds calls of {len(recorded)} models ({listed}): say which "
                    "with model='provider:model'"
                )
            model = recorded[0]
        provider, sep, name = model.partition(":")
        if model not in recorded:
            raise errors.ConfigurationError(
                f"the log holds no calls of {model}; it holds: {', '.join(recorded) or 'none'}"
            )
        return cls(
            journal,
            provider=provider,
            name=name if sep else provider,
            strict=strict,
            fallback=fallback,
        )

    @property
    def remaining(self) -> int:
        """Recorded calls not asked for yet."""
        return sum(len(queue) for queue in self._pending.values())

    def assert_complete(self) -> None:
        """Check that every recorded call was asked for.

        Raises:
            UnplayedRecordingsError: some were not (the message says which).
        """
        left = [recorded for queue in self._pending.values() for recorded in queue]
        if left:
            first = left[0].messages()[-1:] or [{}]
            raise UnplayedRecordingsError(
                f"{self!r}: {len(left)} of {len(self._recorded)} recorded calls were not "
                f"asked for; the first ended with {_brief(first[0])}"
            )

    # -- answering -------------------------------------------------------------------

    async def request(self, request: LLMRequest) -> LLMResponse:
        """The recorded answer to ``request`` (or its recorded error, raised)."""
        key = request_hash(self.model_string, request)
        recorded = self._take(key, request)
        if recorded is None:
            assert self.fallback is not None
            return await self.fallback.request(request)
        return self._play(recorded)[1]

    async def request_stream(self, request: LLMRequest) -> AsyncIterator[StreamChunk]:
        """The recorded answer as it was streamed: the recorded deltas, then the response.

        A recording made without streaming (or without its delta events) is
        streamed as one delta per part.
        """
        key = request_hash(self.model_string, request)
        recorded = self._take(key, request)
        if recorded is None:
            assert self.fallback is not None
            async for chunk in self.fallback.request_stream(request):
                yield chunk
            return
        attempt, response = self._play(recorded)
        deltas = [
            _DELTA_EVENTS[child.type](str(child.get("text")))
            for child in self.journal.children_of(attempt)
            if child.type in _DELTA_EVENTS and child.get("text")
        ]
        for chunk in stream_of(response, deltas or None):
            yield chunk

    async def request_structured(
        self, request: LLMRequest, response_model: type[T], max_retries: int
    ) -> tuple[T, LLMResponse]:
        """The recorded structured answer, validated again into ``response_model``."""
        from pydantic import TypeAdapter

        adapter: TypeAdapter[T] = TypeAdapter(response_model)
        key = request_hash(self.model_string, request, response_schema=adapter.json_schema())
        recorded = self._take(key, request)
        if recorded is None:
            assert self.fallback is not None
            return await self.fallback.request_structured(request, response_model, max_retries)
        response = self._play(recorded)[1]
        if response.content:
            return adapter.validate_json(response.content), response
        arguments = response.tool_calls[0].arguments if response.tool_calls else "null"
        return adapter.validate_json(arguments), response

    def price(self, usage: Usage) -> float | None:
        """No price: replayed answers carry the recorded cost."""
        return None

    def _take(self, key: str, request: LLMRequest) -> _Recorded | None:
        queue = self._pending.get(key)
        if queue:
            recorded = queue[0]
            if len(recorded.attempts) <= 1:  # its last recorded attempt
                queue.popleft()
            return recorded
        if not self.strict and self.fallback is not None:
            return None
        raise ReplayMismatchError(self._mismatch(request), provider=self.provider, model=self.name)

    def _play(self, recorded: _Recorded) -> tuple[Entry, LLMResponse]:
        """The next recorded attempt: its call event and its answer (or its error, raised)."""
        attempt, response = recorded.attempts.popleft() if recorded.attempts else (None, None)
        if attempt is None or response is None:
            raise ReplayMismatchError(
                f"the log has the request (call {recorded.call.get('call_id')}) but no answer "
                "to it: the recording was cut short or an answer was removed",
                provider=self.provider,
                model=self.name,
            )
        if response.get("error"):
            raise _recorded_error(response, self.provider, self.name)
        return attempt, LLMResponse(
            content=response.get("content"),
            tool_calls=[_tool_call(call) for call in response.get("tool_calls") or []],
            finish_reason=response.get("finish_reason"),
            usage=Usage(**_known(response.get("usage") or {}, Usage)),
            cost_usd=response.get("cost_usd"),
            model=str(response.get("model") or self.name),
            provider=self.provider,
            thinking_blocks=[_thinking(block) for block in response.get("thinking_blocks") or []],
        )

    def _mismatch(self, request: LLMRequest) -> str:
        asked = request.messages
        candidates = [r for queue in self._pending.values() for r in queue] or self._recorded
        where = f"the log holds {len(self._recorded)} calls of {self.model_string}"
        if not candidates:
            return f"no recorded answer for this request: {where}, none unplayed"
        nearest = max(candidates, key=lambda r: _similarity(r.messages(), asked))
        recorded = nearest.messages()
        diff = list(
            difflib.unified_diff(
                _lines(recorded), _lines(asked), "recorded request", "this request", lineterm=""
            )
        )
        if not diff:
            diff = ["(the messages are the same: the tools or the settings differ)"]
        shown = diff[:_DIFF_LINES] + (["..."] if len(diff) > _DIFF_LINES else [])
        return (
            f"no recorded answer for this request: {where}; the nearest unplayed one "
            f"(call {nearest.call.get('call_id')}) differs:\n" + "\n".join(shown)
        )


def _model_string(call: Entry) -> str:
    provider, name = str(call.get("provider") or ""), str(call.get("model") or "")
    return provider if not name or name == provider else f"{provider}:{name}"


def _lines(messages: list[dict[str, Any]]) -> list[str]:
    return json.dumps(
        messages, indent=1, sort_keys=True, ensure_ascii=False, default=str
    ).splitlines()


def _similarity(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> float:
    return difflib.SequenceMatcher(None, _lines(a), _lines(b)).ratio()


def _brief(message: dict[str, Any]) -> str:
    text = json.dumps(message, ensure_ascii=False, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


def _known(data: dict[str, Any], cls: type) -> dict[str, Any]:
    fields = getattr(cls, "__dataclass_fields__", {})
    return {key: value for key, value in data.items() if key in fields}


def _tool_call(data: Any) -> ToolCall:
    if isinstance(data, dict):
        return ToolCall(
            id=str(data.get("id", "")),
            name=str(data.get("name", "")),
            arguments=str(data.get("arguments") or "{}"),
        )
    return ToolCall(id="", name=str(data), arguments="{}")


def _thinking(data: Any) -> ThinkingBlock:
    if isinstance(data, dict) and data.get("type") == "redacted_thinking":
        return RedactedThinkingPart(**_known(data, RedactedThinkingPart))
    if isinstance(data, dict):
        return ThinkingPart(**_known(data, ThinkingPart))
    return ThinkingPart(str(data))


def _recorded_error(response: Entry, provider: str, model: str) -> ProviderError:
    """The recorded error, as the class that was raised (a ProviderError subclass)."""
    name = str(response.get("error_type") or "ProviderError")
    kind = getattr(errors, name, None)
    if not (isinstance(kind, type) and issubclass(kind, ProviderError)):
        kind = ProviderError
    text = str(response.get("error") or "")
    detail = text.partition(": ")[2] if text.startswith(f"{name}: ") else text
    prefix = f"{provider}:{model}"
    for head in (f"{prefix} (HTTP {response.get('status')}): ", f"{prefix}: "):
        if detail.startswith(head):
            detail = detail[len(head) :]
            break
    return kind(detail, provider=provider, model=model, status=response.get("status"))
