"""Open OpenTelemetry spans, arranged as the run's trace trees.

Every message names its parent (``parent_id``) and its trace (``trace_id``).
A span started for a message becomes the child of the span of the nearest
message above it; messages that start no span are remembered as belonging to
the span they happened in, while their trace has open spans, so what they
cause finds its place too.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

__all__ = ["OpenSpan", "SpanForest"]

_FINISHED_TRACES = 256  # finished traces kept, so late children still find their tree


@dataclass(eq=False)
class _Trace:
    """The spans of one LLMgine trace."""

    trace_id: str
    #: Message id -> the innermost span it happened in (while spans are open).
    owners: dict[str, OpenSpan] = field(default_factory=dict)
    root: OpenSpan | None = None
    open: int = 0


@dataclass(eq=False)
class OpenSpan:
    """A span that was started for a message.

    Attributes:
        span: The OpenTelemetry span.
        key: The id of the message it stands for.
        session_id: That message's session.
        agent: True for a turn of an engine (``invoke_agent``).
        named: False while an agent span is named from its command, until its
            engine is known.
    """

    span: Span
    key: str
    session_id: str
    trace: _Trace
    parent: OpenSpan | None
    agent: bool = False
    named: bool = True
    children: dict[str, OpenSpan] = field(default_factory=dict)  # the open ones


class SpanForest:
    """The open spans of a handler, each under the span of the nearest message above it.

    Args:
        tracer: Where spans are started.
        max_open: The most spans open at once; past it the oldest is ended.
        redact: Masks secrets in status descriptions.
    """

    def __init__(self, tracer: Tracer, *, max_open: int, redact: Callable[[str], str]) -> None:
        from opentelemetry import trace

        self.tracer = tracer
        self.max_open = max_open
        self.redact = redact
        self._kinds = (trace.SpanKind.INTERNAL, trace.SpanKind.CLIENT)
        self._status = trace.Status
        self._error = trace.StatusCode.ERROR
        self._in_context = trace.set_span_in_context
        self._open: dict[str, OpenSpan] = {}
        self._traces: dict[str, _Trace] = {}
        self._finished: OrderedDict[str, _Trace] = OrderedDict()

    def get(self, key: str | None) -> OpenSpan | None:
        """The open span of the message ``key``, if any."""
        return self._open.get(key or "")

    def __iter__(self) -> Iterator[OpenSpan]:
        return iter(list(self._open.values()))

    def __len__(self) -> int:
        return len(self._open)

    def note(self, message_id: str, trace_id: str | None, parent_id: str | None) -> None:
        """Remember that a message that starts no span happened where its parent did."""
        trace = self._traces.get(trace_id or "")
        if trace is not None:
            owner = trace.owners.get(parent_id or "")
            if owner is not None:
                trace.owners[message_id] = owner

    def claim(self, message_id: str, opened: OpenSpan) -> None:
        """Put the message ``message_id`` inside ``opened`` (a command's start event)."""
        opened.trace.owners[message_id] = opened

    def start(
        self,
        message: Any,
        name: str,
        attributes: dict[str, Any],
        start: int,
        parent_id: str | None,
        *,
        client: bool = False,
    ) -> OpenSpan:
        """Start the span of ``message`` (a command or an event) at ``start`` (ns)."""
        trace_id = message.trace_id or message.message_id
        trace = self._traces.get(trace_id)
        if trace is None:
            trace = self._finished.pop(trace_id, None) or _Trace(trace_id)
            self._traces[trace_id] = trace
        parent = trace.owners.get(parent_id) if parent_id else None
        if parent is None and parent_id:  # a late child of a finished tree: under its root
            parent = trace.root
        attributes["llmgine.trace_id"] = trace_id
        attributes["llmgine.message_id"] = message.message_id
        session = message.session_id
        if session and session not in ("ROOT", "GLOBAL"):
            attributes["gen_ai.conversation.id"] = session
        span = self.tracer.start_span(
            name,
            # None: a turn started inside the caller's own span (a web request's) is its child.
            context=self._in_context(parent.span) if parent is not None else None,
            kind=self._kinds[client],
            attributes={k: v for k, v in attributes.items() if v is not None},
            start_time=start,
        )
        opened = OpenSpan(span, message.message_id, session, trace, parent)
        if parent is not None and parent.key in self._open:
            parent.children[opened.key] = opened
        trace.owners[opened.key] = opened
        trace.open += 1
        if trace.root is None:
            trace.root = opened
        self._open[opened.key] = opened
        if len(self._open) > self.max_open:
            oldest = next(iter(self._open.values()))
            self.end(oldest, time.time_ns(), incomplete="more than max_open_spans were open")
        return opened

    def fail(self, span: Span, error_type: str, description: str | None) -> None:
        """Mark ``span`` failed: status ERROR (with the masked description) and ``error.type``."""
        span.set_attribute("error.type", error_type)
        text = self.redact(description) if description else None
        span.set_status(self._status(self._error, text))

    def end(self, opened: OpenSpan, end: int, *, incomplete: str | None = None) -> None:
        """End ``opened`` at ``end`` (ns), after its open children (marked incomplete)."""
        for child in list(opened.children.values()):
            self.end(child, end, incomplete=incomplete or "its parent ended first")
        if incomplete is not None:
            opened.span.set_attribute("llmgine.incomplete", True)
            self.fail(opened.span, "incomplete", f"not finished: {incomplete}")
        opened.span.end(end_time=end)
        self._open.pop(opened.key, None)
        if opened.parent is not None:
            opened.parent.children.pop(opened.key, None)
        trace = opened.trace
        trace.open -= 1
        if trace.open <= 0 and self._traces.get(trace.trace_id) is trace:
            # The tree is done: only its root is kept, for late children.
            trace.owners.clear()
            del self._traces[trace.trace_id]
            self._finished[trace.trace_id] = trace
            if len(self._finished) > _FINISHED_TRACES:
                self._finished.popitem(last=False)

    def end_all(self, reason: str) -> int:
        """End every open span now, marked incomplete; return how many were open."""
        now = time.time_ns()
        count = len(self._open)
        for opened in list(self._open.values()):
            if opened.key in self._open and (
                opened.parent is None or opened.parent.key not in self._open
            ):
                self.end(opened, now, incomplete=reason)  # its open subtree with it
        return count
