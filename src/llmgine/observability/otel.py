"""OpenTelemetry traces of every run, in the GenAI semantic conventions.

Each turn becomes a span tree that mirrors the run's trace tree:

* a command an engine handles -> ``invoke_agent {engine}`` (INTERNAL); any
  other command -> a span named after its class;
* a model attempt (``LLMCallEvent`` .. ``LLMResponseEvent``) -> ``chat {model}``
  (CLIENT), with the provider, the models, the settings and the token usage;
* a tool call (``ToolCallStartedEvent`` .. ``ToolExecuteResultEvent``) ->
  ``execute_tool {tool}`` (INTERNAL).

A span's parent is the span of the nearest message above it in the trace
tree, and its times are the events' timestamps. Events are read by class name
and field (this layer does not import the layers that define them).
"""

from __future__ import annotations

import atexit
import datetime as _dt
import logging
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from llmgine._version import __version__
from llmgine.errors import ConfigurationError
from llmgine.messages.events import Event
from llmgine.observability import genai
from llmgine.observability.base import ObservabilityEventHandler, dumps_json
from llmgine.observability.spans import OpenSpan, SpanForest

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

__all__ = ["OpenTelemetryEventHandler"]

logger = logging.getLogger("llmgine.observability")

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_MICROSECOND = _dt.timedelta(microseconds=1)
#: What each event class (or a subclass of it) means to the handler.
_ROLES = {
    "CommandStartedEvent": "_on_command_started",
    "CommandResultEvent": "_on_command_finished",
    "LLMCallEvent": "_on_call",
    "LLMResponseEvent": "_on_response",
    "ToolCallStartedEvent": "_on_tool_started",
    "ToolExecuteResultEvent": "_on_tool_finished",
    "RunStartedEvent": "_on_run_started",
    "ToolRegisterEvent": "_on_tool_registered",
}
_ROLE_OF: dict[type, str] = {}
_REMEMBERED = 1024  # engines, tool descriptions and requests kept


def _role(cls: type) -> str:
    role = _ROLE_OF.get(cls)
    if role is None:
        role = next((_ROLES[k.__name__] for k in cls.__mro__ if k.__name__ in _ROLES), "")
        _ROLE_OF[cls] = role
    return role


def _ns(timestamp: Any) -> int:
    """Nanoseconds since the epoch of a message timestamp (naive ones are UTC)."""
    if not isinstance(timestamp, _dt.datetime):
        return time.time_ns()
    if timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=_dt.UTC)
    return (timestamp - _EPOCH) // _MICROSECOND * 1000


def _started(event: Any) -> int:
    """When a finished operation whose start was not seen began: its end less its duration."""
    duration = getattr(event, "duration_s", 0.0) or 0.0
    return _ns(event.timestamp) - int(duration * 1e9)


def _is_engine_command(cls: type) -> bool:
    return any(k.__name__ == "EngineCommand" for k in cls.__mro__)


def _remember(store: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    store[key] = value
    store.move_to_end(key)
    if len(store) > _REMEMBERED:
        store.popitem(last=False)


def _flush_at_exit(ref: weakref.ref[OpenTelemetryEventHandler]) -> None:
    handler = ref()
    if handler is not None:
        handler.end_open_spans("the process exited before it finished")


@dataclass
class _Agent:
    """What a ``RunStartedEvent`` says of an engine."""

    name: str
    engine_id: str
    models: list[str]

    def attributes(self) -> dict[str, Any]:
        attributes: dict[str, Any] = {"gen_ai.agent.name": self.name}
        if self.engine_id:
            attributes["gen_ai.agent.id"] = self.engine_id
        pairs = {genai.split_model_string(model) for model in self.models}
        providers = {provider for provider, _ in pairs}
        if len(providers) == 1:  # an engine of several providers has no one provider
            attributes["gen_ai.provider.name"] = genai.provider_name(providers.pop())
        if len(pairs) == 1:
            attributes["gen_ai.request.model"] = pairs.pop()[1]
        return attributes


class OpenTelemetryEventHandler(ObservabilityEventHandler):
    """Turns every run into OpenTelemetry spans (GenAI semantic conventions).

    Register it like any observability handler,
    ``bus.register_observability_handler(OpenTelemetryEventHandler(provider))``,
    or set ``ApplicationConfig(enable_otel_handler=True, otel_tracer_provider=...)``.
    A turn started while an OpenTelemetry span is current (a web request's,
    say) becomes that span's child.

    Message content (prompts, answers, tool arguments and results) is left out
    unless ``capture_content=True``; then it is recorded as the conventions'
    ``gen_ai.input.messages``, ``gen_ai.output.messages``,
    ``gen_ai.tool.call.arguments`` and ``gen_ai.tool.call.result``, with
    secrets masked by the handler's redactor. Token usage is on chat spans
    only, so summing a trace's spans counts every token once.

    Spans still open on :meth:`flush` or :meth:`close` (the bus calls ``flush``
    on ``stop()``; a turn cut off mid-way, a cancelled task) are ended then,
    with status ERROR and ``error.type`` ``"incomplete"``; so is whatever is
    open at interpreter exit, or beyond ``max_open_spans``.

    Args:
        tracer_provider: Where spans go (an SDK ``TracerProvider`` with your
            exporter); default the global provider of ``opentelemetry.trace``.
        capture_content: Record message content (masked).
        max_open_spans: The most spans kept open at once; the oldest is ended
            past it.
        **kwargs: ``redactor=`` (see :class:`ObservabilityEventHandler`).

    Raises:
        ConfigurationError: OpenTelemetry is not installed.
    """

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        *,
        capture_content: bool = False,
        max_open_spans: int = 10_000,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        try:
            from opentelemetry import trace
        except ImportError as exc:
            raise ConfigurationError(
                "OpenTelemetryEventHandler needs OpenTelemetry, which is not installed; "
                "install LLMgine's otel extra: pip install 'llmgine[otel]' (from a "
                "checkout: pip install -e '../llmgine[otel]')"
            ) from exc
        if tracer_provider is None:
            tracer_provider = trace.get_tracer_provider()
        self.tracer_provider = tracer_provider
        self.tracer = self.tracer_provider.get_tracer("llmgine", __version__)
        self.capture_content = capture_content
        self._spans = SpanForest(
            self.tracer, max_open=max_open_spans, redact=self.redactor.redact_text
        )
        self._agents: OrderedDict[str, _Agent] = OrderedDict()  # by session
        self._tools: OrderedDict[tuple[str, str], str] = OrderedDict()  # descriptions
        self._requests: OrderedDict[str, list[Any]] = OrderedDict()  # call id -> messages
        atexit.register(_flush_at_exit, weakref.ref(self))

    # -- the events --------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        """Open, end or annotate the span ``event`` stands for."""
        role = _ROLE_OF.get(type(event))
        if role is None:
            role = _role(type(event))
        if role:
            getattr(self, role)(event)
        else:
            self._note(event)

    def _note(self, event: Event) -> None:
        """Remember the span ``event`` happened in, for what it causes."""
        self._spans.note(event.event_id, event.trace_id, event.parent_id)

    def _on_command_started(self, event: Event) -> None:
        command = getattr(event, "command", None)
        if command is None:
            return self._note(event)
        session = command.session_id
        attributes: dict[str, Any] = {"llmgine.command.type": type(command).__name__}
        if _is_engine_command(type(command)):
            agent = self._agents.get(session)
            name = agent.name if agent else type(command).__name__.removesuffix("Command")
            attributes["gen_ai.operation.name"] = "invoke_agent"
            attributes.update(agent.attributes() if agent else {"gen_ai.agent.name": name})
            if self.capture_content and isinstance(getattr(command, "prompt", None), str):
                attributes["gen_ai.input.messages"] = self._content(
                    genai.input_messages([{"role": "user", "content": command.prompt}])
                )
            start = _ns(event.timestamp)
            opened = self._spans.start(
                command, f"invoke_agent {name}", attributes, start, command.parent_id
            )
            opened.agent, opened.named = True, agent is not None
        else:
            opened = self._spans.start(
                command, type(command).__name__, attributes, _ns(event.timestamp), command.parent_id
            )
        self._spans.claim(event.event_id, opened)

    def _on_command_finished(self, event: Event) -> None:
        result = getattr(event, "command_result", None)
        opened = self._spans.get(getattr(result, "command_id", None))
        if result is None or opened is None:
            return self._note(event)
        if not result.success:
            metadata = result.metadata or {}
            error_type = metadata.get("error_type")
            if not error_type and "exception_details" in metadata and result.error:
                error_type = result.error.partition(":")[0]  # "ValueError: ..." from the bus
            self._spans.fail(opened.span, str(error_type or "_OTHER"), result.error)
        elif opened.agent and self.capture_content and result.result is not None:
            opened.span.set_attribute(
                "gen_ai.output.messages",
                self._content(genai.output_messages(str(result.result), [], "stop")),
            )
        self._spans.end(opened, _ns(event.timestamp))

    def _on_run_started(self, event: Event) -> None:
        engine_id = str(getattr(event, "engine_id", ""))
        agent = _Agent(
            genai.agent_name(str(getattr(event, "engine", "") or "agent")),
            engine_id,
            [str(model) for model in getattr(event, "models", None) or []],
        )
        _remember(self._agents, event.session_id, agent)
        for schema in getattr(event, "tools", None) or []:
            self._remember_tool(engine_id, schema)
        # An engine registered on the bus announces itself inside its first command.
        for opened in self._spans:
            if opened.agent and not opened.named and opened.session_id == event.session_id:
                opened.span.update_name(f"invoke_agent {agent.name}")
                opened.span.set_attributes(agent.attributes())
                opened.named = True
        self._note(event)

    def _on_tool_registered(self, event: Event) -> None:
        self._remember_tool(str(getattr(event, "engine_id", "")), getattr(event, "tool_info", {}))
        self._note(event)

    def _remember_tool(self, engine_id: str, schema: Any) -> None:
        name = genai.read_field(schema, "name")
        description = genai.read_field(schema, "description")
        if name and description:
            _remember(self._tools, (engine_id, str(name)), str(description))

    def _on_call(self, event: Any, start: int | None = None) -> OpenSpan:
        attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": genai.provider_name(event.provider or "_OTHER"),
            "gen_ai.request.model": event.model,
            "llmgine.call.id": event.call_id,
            "llmgine.call.attempt": event.attempt,
        }
        if start is None:  # a call event (else a response whose call was not seen)
            attributes.update(genai.request_attributes(event.parameters or {}))
            if event.stream:
                attributes["gen_ai.request.stream"] = True
            if self.capture_content:
                messages = self._request_messages(event)
                attributes["gen_ai.input.messages"] = self._content(genai.input_messages(messages))
            start = _ns(event.timestamp)
        name = f"chat {event.model}" if event.model else "chat"
        return self._spans.start(event, name, attributes, start, event.parent_id, client=True)

    def _request_messages(self, event: Any) -> list[Any]:
        """The whole conversation a call sent: the log keeps only what is new since its prefix."""
        messages = list(event.messages or [])
        if event.prefix_call_id:
            prefix = self._requests.get(event.prefix_call_id)
            if prefix is not None:
                messages = prefix[: event.prefix_messages] + messages
        _remember(self._requests, event.call_id, messages)
        return messages

    def _on_response(self, event: Any) -> None:
        opened = self._spans.get(event.parent_id)
        if opened is None:  # its call was not seen: the span is rebuilt from the response
            opened = self._on_call(event, _started(event))
        span = opened.span
        attributes: dict[str, Any] = genai.usage_attributes(event.usage)
        if event.model:
            attributes["gen_ai.response.model"] = event.model
        if event.finish_reason:
            attributes["gen_ai.response.finish_reasons"] = [event.finish_reason]
        if event.cost_usd is not None:
            attributes["llmgine.cost_usd"] = event.cost_usd
        if event.will_retry:
            attributes["llmgine.call.will_retry"] = True
        if self.capture_content and not event.error:
            attributes["gen_ai.output.messages"] = self._content(
                genai.output_messages(
                    event.content, event.tool_calls or [], event.finish_reason, event.thinking
                )
            )
        span.set_attributes(attributes)
        if event.error:
            self._spans.fail(span, event.error_type or "_OTHER", event.error)
        self._spans.end(opened, _ns(event.timestamp))

    def _on_tool_started(self, event: Any, start: int | None = None) -> OpenSpan:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": event.tool_name,
            "gen_ai.tool.call.id": event.tool_call_id,
            "gen_ai.tool.type": "function",
        }
        description = self._tools.get((event.engine_id, event.tool_name))
        if description:
            attributes["gen_ai.tool.description"] = description
        if self.capture_content and event.arguments is not None:
            attributes["gen_ai.tool.call.arguments"] = self._content(event.arguments)
        if start is None:
            start = _ns(event.timestamp)
        name = f"execute_tool {event.tool_name}"
        return self._spans.start(event, name, attributes, start, event.parent_id)

    def _on_tool_finished(self, event: Any) -> None:
        opened = self._spans.get(event.parent_id)
        if opened is None:  # its start was not seen: the span is rebuilt from the result
            opened = self._on_tool_started(event, _started(event))
        span = opened.span
        if self.capture_content:
            span.set_attribute("gen_ai.tool.call.result", self.redactor.redact_text(event.result))
        if event.is_error:
            # The error text is what the model read: content, shown only when content is.
            reason = event.result if self.capture_content else None
            self._spans.fail(span, getattr(event, "error_type", None) or "_OTHER", reason)
        self._spans.end(opened, _ns(event.timestamp))

    # -- content -------------------------------------------------------------------

    def _content(self, value: Any) -> str:
        """``value`` as JSON text with secrets masked (on a copy: the event is left alone)."""
        copy = orjson.loads(dumps_json(value))
        return dumps_json(self.redactor.redact(copy)).decode()

    # -- shutting down -----------------------------------------------------------------

    def end_open_spans(self, reason: str = "the handler was flushed before it finished") -> int:
        """End every open span now, marked incomplete; return how many were open."""
        return self._spans.end_all(reason)

    def flush(self) -> None:
        """End the spans still open (marked incomplete) and flush the provider's exporters."""
        self.end_open_spans()
        force_flush = getattr(self.tracer_provider, "force_flush", None)
        if force_flush is not None:
            try:
                force_flush()
            except Exception as exc:  # an exporter that cannot export must not stop the bus
                logger.warning("OpenTelemetry exporters failed to flush: %s", exc)

    def __repr__(self) -> str:
        return f"OpenTelemetryEventHandler(capture_content={self.capture_content})"
