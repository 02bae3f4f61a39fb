"""OpenTelemetryEventHandler: real turns become GenAI span trees on a local provider.

Every test exports to an InMemorySpanExporter through a TracerProvider of its
own; the global provider is never set.
"""

import asyncio
import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from llmgine import ApplicationBootstrap, ApplicationConfig
from llmgine.bus.bus import MessageBus
from llmgine.engines import SinglePassEngine, ToolChatEngine, ToolChatEngineCommand
from llmgine.errors import ConfigurationError, ProviderAuthError, ProviderRateLimitError
from llmgine.messages import Event
from llmgine.models.events import LLMCallEvent, LLMResponseEvent
from llmgine.models.response import LLMResponse, Usage
from llmgine.models.retry import RetryPolicy
from llmgine.observability import OpenTelemetryEventHandler, Redactor
from llmgine.testing import ScriptedModel
from llmgine.tools import ToolCall, tool

KEY = "sk-proj-Abcdefghijklmnop1234567890"  # looks like an OpenAI key
PASSWORD = "correct-horse-battery-staple"  # a literal secret the redactor is told about


@tool
def get_weather(city: str) -> str:
    """Weather for a city.

    Args:
        city: The city.
    """
    return f"{city}: 17 C"


@tool
def broken(reason: str) -> str:
    """A tool that always fails.

    Args:
        reason: Why it fails.
    """
    raise RuntimeError(f"broken because {reason}")


@tool
async def ask_expert(question: str) -> str:
    """Ask another engine.

    Args:
        question: The question.
    """
    return await SinglePassEngine(model=ScriptedModel(["42"])).answer(question)


def usage(prompt: int, completion: int) -> Usage:
    return Usage(prompt_tokens=prompt, completion_tokens=completion)


def two_tool_turn(arguments: str = '{"reason": "testing"}') -> ScriptedModel:
    return ScriptedModel(
        [
            LLMResponse(
                tool_calls=[
                    ToolCall("c1", "get_weather", '{"city": "Perth"}'),
                    ToolCall("c2", "broken", arguments),
                ],
                usage=usage(10, 5),
            ),
            LLMResponse(content="It is 17 C in Perth.", usage=usage(30, 8)),
        ]
    )


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


def attach(bus: MessageBus, provider: TracerProvider, **kwargs: Any) -> OpenTelemetryEventHandler:
    handler = OpenTelemetryEventHandler(provider, **kwargs)
    bus.register_observability_handler(handler)
    return handler


def by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, list[ReadableSpan]]:
    found: dict[str, list[ReadableSpan]] = {}
    for span in spans:
        found.setdefault(span.name, []).append(span)
    return found


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.span_id


def exported_text(spans: tuple[ReadableSpan, ...]) -> str:
    return "\n".join(span.to_json() for span in spans)


async def test_a_tool_chat_turn_is_a_span_tree_with_genai_attributes(
    bus: MessageBus, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    attach(bus, provider)
    calls: list[LLMCallEvent] = []
    bus.register_event_handler(LLMCallEvent, calls.append, "s1")
    engine = ToolChatEngine("s1", model=two_tool_turn(), tools=[get_weather, broken])
    result = await engine.execute("Weather in Perth?")
    assert result.success

    spans = exporter.get_finished_spans()
    named = by_name(spans)
    assert sorted(named) == [
        "chat scripted",
        "execute_tool broken",
        "execute_tool get_weather",
        "invoke_agent ToolChatEngine",
    ]
    (agent,) = named["invoke_agent ToolChatEngine"]
    first_chat, second_chat = sorted(named["chat scripted"], key=lambda s: s.start_time or 0)
    (weather,) = named["execute_tool get_weather"]
    (failing,) = named["execute_tool broken"]

    # The tree: the turn is the root; model calls and tool calls are its children.
    assert agent.parent is None
    for child in (first_chat, second_chat, weather, failing):
        assert parent_of(child) == span_id(agent)
        assert child.context is not None and agent.context is not None
        assert child.context.trace_id == agent.context.trace_id
    assert agent.kind is SpanKind.INTERNAL and weather.kind is SpanKind.INTERNAL
    assert first_chat.kind is SpanKind.CLIENT

    assert agent.attributes is not None
    assert agent.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert agent.attributes["gen_ai.agent.name"] == "ToolChatEngine"
    assert agent.attributes["gen_ai.agent.id"] == engine.engine_id
    assert agent.attributes["gen_ai.conversation.id"] == "s1"
    assert agent.attributes["llmgine.trace_id"] == result.command_id  # the log's trace id
    assert agent.status.status_code is StatusCode.UNSET

    chat = dict(first_chat.attributes or {})
    assert chat["gen_ai.operation.name"] == "chat"
    assert chat["gen_ai.provider.name"] == "scripted"
    assert chat["gen_ai.request.model"] == "scripted"
    assert chat["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert chat["gen_ai.usage.input_tokens"] == 10 and chat["gen_ai.usage.output_tokens"] == 5
    assert dict(second_chat.attributes or {})["gen_ai.usage.input_tokens"] == 30
    # Usage is on chat spans only: summing the trace counts each token once.
    for span in (agent, weather, failing):
        assert not any(key.startswith("gen_ai.usage.") for key in span.attributes or {})

    # Span times are the events' timestamps.
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    assert (
        first_chat.start_time == (calls[0].timestamp - epoch) // dt.timedelta(microseconds=1) * 1000
    )
    assert agent.start_time is not None and agent.end_time is not None
    for child in (first_chat, second_chat, weather, failing):
        assert child.start_time is not None and child.end_time is not None
        assert agent.start_time <= child.start_time <= child.end_time <= agent.end_time

    tool_attributes = dict(weather.attributes or {})
    assert tool_attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool_attributes["gen_ai.tool.name"] == "get_weather"
    assert tool_attributes["gen_ai.tool.call.id"] == "c1"
    assert tool_attributes["gen_ai.tool.type"] == "function"
    assert tool_attributes["gen_ai.tool.description"] == "Weather for a city."
    assert weather.status.status_code is StatusCode.UNSET

    assert failing.status.status_code is StatusCode.ERROR
    assert dict(failing.attributes or {})["error.type"] == "RuntimeError"


async def test_content_is_left_out_by_default(
    bus: MessageBus, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    attach(bus, provider)
    engine = ToolChatEngine(model=two_tool_turn(), tools=[get_weather, broken])
    await engine.execute("Weather in Perth, where my cat Whiskers lives?")
    spans = exporter.get_finished_spans()
    content_keys = {
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
    }
    assert len(spans) == 5
    for span in spans:
        assert content_keys.isdisjoint(span.attributes or {})
    text = exported_text(spans)
    for private in ("Whiskers", "It is 17 C", "Perth: 17 C", "broken because"):
        assert private not in text


async def test_content_when_enabled_is_recorded_with_secrets_masked(
    bus: MessageBus, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    attach(bus, provider, capture_content=True, redactor=Redactor([PASSWORD]))
    model = two_tool_turn(f'{{"reason": "my key is {KEY}"}}')
    engine = ToolChatEngine(model=model, tools=[get_weather, broken])
    await engine.execute(f"Weather in Perth? My key is {KEY}, my password {PASSWORD}.")

    spans = exporter.get_finished_spans()
    text = exported_text(spans)
    assert KEY not in text and PASSWORD not in text
    named = by_name(spans)
    (agent,) = named["invoke_agent ToolChatEngine"]
    assert agent.attributes is not None
    assert agent.attributes["gen_ai.input.messages"] == (
        '[{"role":"user","parts":[{"type":"text","content":'
        '"Weather in Perth? My key is ***, my password ***."}]}]'
    )
    assert "It is 17 C in Perth." in str(agent.attributes["gen_ai.output.messages"])

    first_chat, second_chat = sorted(named["chat scripted"], key=lambda s: s.start_time or 0)
    sent = str(dict(second_chat.attributes or {})["gen_ai.input.messages"])
    # The whole conversation, though the event carried only what was new since the first call.
    assert '"role":"system"' in sent and "My key is ***" in sent
    assert '{"type":"tool_call_response","id":"c1","response":"Perth: 17 C"}' in sent
    answer = str(dict(first_chat.attributes or {})["gen_ai.output.messages"])
    assert (
        '"type":"tool_call","id":"c1","name":"get_weather","arguments":{"city":"Perth"}' in answer
    )

    (failing,) = named["execute_tool broken"]
    assert dict(failing.attributes or {})["gen_ai.tool.call.arguments"] == (
        '{"reason":"my key is ***"}'
    )
    assert "broken because my key is ***" in str(failing.status.description)
    (weather,) = named["execute_tool get_weather"]
    assert dict(weather.attributes or {})["gen_ai.tool.call.result"] == "Perth: 17 C"


async def test_a_provider_error_fails_the_chat_and_the_turn(
    bus: MessageBus, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    attach(bus, provider)
    failure = ProviderAuthError(f"Incorrect API key provided: {KEY}", provider="openai", model="m")
    engine = ToolChatEngine(model=ScriptedModel([failure]))
    result = await engine.execute("hello")
    assert not result.success

    named = by_name(exporter.get_finished_spans())
    (chat,) = named["chat scripted"]
    (agent,) = named["invoke_agent ToolChatEngine"]
    for span in (chat, agent):
        assert span.status.status_code is StatusCode.ERROR
        assert dict(span.attributes or {})["error.type"] == "ProviderAuthError"
        assert "Incorrect API key provided: ***" in str(span.status.description)
    assert KEY not in exported_text(exporter.get_finished_spans())


async def test_each_attempt_of_a_retried_call_is_a_chat_span(
    bus: MessageBus, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    attach(bus, provider)
    model = ScriptedModel([ProviderRateLimitError("slow down", provider="p", model="m"), "hi"])
    model.retry = RetryPolicy(max_attempts=2, initial_delay=0.001, max_delay=0.001, jitter=0)
    engine = ToolChatEngine(model=model)
    assert (await engine.execute("hello")).success

    chats = sorted(
        by_name(exporter.get_finished_spans())["chat scripted"], key=lambda s: s.start_time or 0
    )
    first, second = (dict(span.attributes or {}) for span in chats)
    assert first["llmgine.call.attempt"] == 1 and second["llmgine.call.attempt"] == 2
    assert first["llmgine.call.id"] == second["llmgine.call.id"]
    assert first["error.type"] == "ProviderRateLimitError" and first["llmgine.call.will_retry"]
    assert chats[0].status.status_code is StatusCode.ERROR
    assert chats[1].status.status_code is StatusCode.UNSET and "error.type" not in second


async def test_an_engine_inside_a_tool_is_a_subtree_of_the_tool_span(
    bus: MessageBus, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    attach(bus, provider)
    model = ScriptedModel(
        [
            LLMResponse(tool_calls=[ToolCall("c1", "ask_expert", '{"question": "meaning?"}')]),
            "The expert says 42.",
        ]
    )
    engine = ToolChatEngine(model=model, tools=[ask_expert])
    assert (await engine.execute("Ask the expert")).result == "The expert says 42."

    named = by_name(exporter.get_finished_spans())
    (outer,) = named["invoke_agent ToolChatEngine"]
    (tool_span,) = named["execute_tool ask_expert"]
    (inner,) = named["invoke_agent SinglePassEngine"]
    (inner_chat,) = [s for s in named["chat scripted"] if parent_of(s) == span_id(inner)]
    assert parent_of(tool_span) == span_id(outer)
    assert parent_of(inner) == span_id(tool_span)
    assert inner.context is not None and outer.context is not None
    assert inner.context.trace_id == outer.context.trace_id
    assert inner_chat.kind is SpanKind.CLIENT


async def test_an_engine_registered_on_the_bus_is_named_once_it_announces_itself(
    bus: MessageBus, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    attach(bus, provider)
    engine = ToolChatEngine("s2", model=ScriptedModel(["one", "two"]))
    engine.register()
    for prompt in ("first", "second"):
        result = await bus.execute(ToolChatEngineCommand(prompt, session_id="s2"))
        assert result.success
    agents = by_name(exporter.get_finished_spans())["invoke_agent ToolChatEngine"]
    assert len(agents) == 2
    for span in agents:  # the first turn's RunStartedEvent came inside its command
        assert dict(span.attributes or {})["gen_ai.agent.id"] == engine.engine_id


async def test_other_commands_are_spans_of_their_own_class(
    bus: MessageBus, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    from llmgine.messages import Command, CommandResult

    class Translate(Command):
        text: str = ""

    def translate(command: Translate) -> CommandResult:
        return CommandResult(success=False, error="ValueError: no such language")

    bus.register_command_handler(Translate, translate)
    attach(bus, provider)
    await bus.execute(Translate("hola"))
    (span,) = exporter.get_finished_spans()
    assert span.name == "Translate" and span.kind is SpanKind.INTERNAL
    assert "gen_ai.operation.name" not in (span.attributes or {})
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == "_OTHER"


async def test_spans_of_a_cut_off_turn_are_ended_on_flush(
    bus: MessageBus, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    handler = attach(bus, provider)
    started = asyncio.Event()

    @tool
    async def hang(query: str) -> str:
        """Never returns.

        Args:
            query: What to look up.
        """
        started.set()
        await asyncio.Event().wait()
        return "never"

    model = ScriptedModel([LLMResponse(tool_calls=[ToolCall("c1", "hang", '{"query": "q"}')])])
    turn = asyncio.create_task(ToolChatEngine(model=model, tools=[hang]).execute("go"))
    await asyncio.wait_for(started.wait(), timeout=10)
    turn.cancel()
    with pytest.raises(asyncio.CancelledError):
        await turn
    assert [s.name for s in exporter.get_finished_spans()] == ["chat scripted"]

    handler.flush()
    named = by_name(exporter.get_finished_spans())
    for name in ("invoke_agent ToolChatEngine", "execute_tool hang"):
        (span,) = named[name]
        assert span.status.status_code is StatusCode.ERROR
        assert dict(span.attributes or {})["error.type"] == "incomplete"
        assert dict(span.attributes or {})["llmgine.incomplete"] is True
    handler.flush()  # nothing is left to end twice
    assert len(exporter.get_finished_spans()) == 3


async def test_open_spans_are_capped(
    bus: MessageBus, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    attach(bus, provider, max_open_spans=2)
    for index in range(3):
        await bus.publish(LLMCallEvent(call_id=f"call-{index}", provider="p", model=f"m{index}"))
    (ended,) = exporter.get_finished_spans()
    assert ended.name == "chat m0" and dict(ended.attributes or {})["error.type"] == "incomplete"


async def test_a_response_whose_call_was_not_seen_still_gets_its_span(
    bus: MessageBus, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    attach(bus, provider)
    response = LLMResponseEvent(
        call_id="c", provider="anthropic", model="claude-x", duration_s=0.5, usage=usage(3, 4)
    )
    await bus.publish(response)
    (span,) = exporter.get_finished_spans()
    assert span.name == "chat claude-x" and span.kind is SpanKind.CLIENT
    assert span.start_time is not None and span.end_time is not None
    assert span.end_time - span.start_time == 500_000_000
    assert dict(span.attributes or {})["gen_ai.usage.output_tokens"] == 4


async def test_provider_names_follow_the_conventions(
    bus: MessageBus, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    attach(bus, provider)
    for name in ("gemini", "xai", "openai", "openrouter"):
        await bus.publish(LLMResponseEvent(call_id=name, provider=name, model="m"))
    names = [
        dict(s.attributes or {})["gen_ai.provider.name"] for s in exporter.get_finished_spans()
    ]
    assert names == ["gcp.gemini", "x_ai", "openai", "openrouter"]


async def test_every_genai_attribute_is_a_semantic_convention_name(
    bus: MessageBus, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    conventions = pytest.importorskip(
        "opentelemetry.semconv._incubating.attributes.gen_ai_attributes"
    )
    known = {value for value in vars(conventions).values() if isinstance(value, str)}
    attach(bus, provider, capture_content=True)
    engine = ToolChatEngine("s1", model=two_tool_turn(), tools=[get_weather, broken])
    await engine.execute("Weather?")
    used = {key for span in exporter.get_finished_spans() for key in span.attributes or {}}
    genai_keys = {key for key in used if key.startswith("gen_ai.")}
    assert len(genai_keys) > 15
    assert sorted(genai_keys - known) == []
    assert used - genai_keys - {"error.type"} == {key for key in used if key.startswith("llmgine.")}


async def test_bootstrap_turns_it_on(
    fresh_bus: MessageBus, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    from llmgine.engines import use_single_pass_engine

    config = ApplicationConfig(
        enable_console_handler=False,
        enable_file_handler=False,
        enable_otel_handler=True,
        otel_tracer_provider=provider,
    )
    async with ApplicationBootstrap(config) as app:
        (handler,) = app.observability_handlers
        assert isinstance(handler, OpenTelemetryEventHandler) and not handler.capture_content
        assert await use_single_pass_engine("Hi", model="test")
    assert sorted(s.name for s in exporter.get_finished_spans()) == [
        "chat test",
        "invoke_agent SinglePassEngine",
    ]


def test_without_opentelemetry_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'llmgine\[otel\]'"):
        OpenTelemetryEventHandler()


def test_the_observability_package_imports_without_opentelemetry() -> None:
    code = (
        "import sys; sys.modules['opentelemetry'] = None\n"
        "import llmgine.observability as o\n"
        "assert 'OpenTelemetryEventHandler' in o.__all__\n"
        "print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_events_outside_any_span_leave_nothing_behind(provider: TracerProvider) -> None:
    handler = OpenTelemetryEventHandler(provider)
    for _ in range(100):
        handler.handle(Event())
    assert handler.end_open_spans() == 0
