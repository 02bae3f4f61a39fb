"""The tool-chat engine on the offline models: the loop, limits, failures, cancellation."""

import asyncio
from typing import Any

import pytest

from llmgine.bus.bus import MessageBus
from llmgine.engines import (
    EngineStatusEvent,
    EngineTextDeltaEvent,
    EngineThinkingDeltaEvent,
    ToolChatEngine,
    ToolChatEngineCommand,
    use_tool_chat_engine,
)
from llmgine.errors import EngineError, ProviderAuthError
from llmgine.models.response import LLMResponse, ThinkingDelta, ThinkingPart, ToolCallDelta, Usage
from llmgine.testing import FunctionModel, ScriptedModel, TestModel
from llmgine.tools import ToolCall, tool
from llmgine.tools.events import ToolExecuteResultEvent


@tool
def get_weather(city: str) -> str:
    """Weather for a city.

    Args:
        city: The city.
    """
    return f"{city}: 17 C"


def priced(content: str | None = None, calls: list[ToolCall] | None = None) -> LLMResponse:
    return LLMResponse(
        content=content,
        tool_calls=calls or [],
        usage=Usage(prompt_tokens=10, completion_tokens=5),
        cost_usd=0.001,
    )


async def test_the_loop_runs_tools_until_an_answer(bus: MessageBus) -> None:
    model = ScriptedModel(
        [
            priced(calls=[ToolCall("c1", "get_weather", '{"city": "Perth"}')]),
            priced("It is 17 C in Perth."),
        ]
    )
    engine = ToolChatEngine("s1", model=model, tools=[get_weather])
    statuses: list[str] = []
    results: list[ToolExecuteResultEvent] = []
    bus.register_event_handler(EngineStatusEvent, lambda e: statuses.append(e.status), "s1")
    bus.register_event_handler(ToolExecuteResultEvent, results.append, "s1")
    engine.register()
    result = await bus.execute(ToolChatEngineCommand("Weather in Perth?", session_id="s1"))
    assert result.success and result.result == "It is 17 C in Perth."
    assert [r.result for r in results] == ["Perth: 17 C"]
    assert results[0].arguments == {"city": "Perth"}
    assert statuses[-1] == "finished" and any("get_weather" in s for s in statuses)
    assert result.metadata["usage"]["total_tokens"] == 30
    assert result.metadata["cost_usd"] == pytest.approx(0.002)
    # the second call saw the tool result
    second = model.requests[1].messages
    assert second[-1] == {
        "role": "tool",
        "tool_call_id": "c1",
        "name": "get_weather",
        "content": "Perth: 17 C",
    }
    assert second[0]["role"] == "system"
    model.assert_complete()


async def test_usage_is_summed_per_session(bus: MessageBus) -> None:
    engine = ToolChatEngine(model=ScriptedModel([priced("a"), priced("b")]))
    await engine.execute("one")
    second = await engine.execute("two")
    assert second.metadata["usage"]["total_tokens"] == 15
    assert second.metadata["session_usage"]["total_tokens"] == 30
    assert second.metadata["session_cost_usd"] == pytest.approx(0.002)
    assert engine.usage.session.total_tokens == 30


async def test_max_iterations_names_the_limit(bus: MessageBus) -> None:
    looping = FunctionModel(lambda messages, info: ToolCall("c", "get_weather", '{"city": "X"}'))
    engine = ToolChatEngine(model=looping, tools=[get_weather], max_iterations=3)
    result = await engine.execute("loop forever")
    assert not result.success
    assert "max_iterations=3" in (result.error or "")


async def test_provider_failure_is_one_clear_error_and_the_session_goes_on(
    bus: MessageBus,
) -> None:
    model = ScriptedModel(
        [ProviderAuthError("Incorrect API key", provider="openai", model="m", status=401), "ok"]
    )
    engine = ToolChatEngine(model=model)
    failed = await engine.execute("hello")
    assert not failed.success and "Incorrect API key" in (failed.error or "")
    assert engine.context.chat_history == []  # the failed turn left nothing behind
    assert (await engine.execute("again")).result == "ok"


async def test_works_with_the_test_model_and_streams(bus: MessageBus) -> None:
    deltas: list[str] = []
    bus.register_event_handler(EngineTextDeltaEvent, lambda e: deltas.append(e.text), "GLOBAL")
    engine = ToolChatEngine(model=TestModel(), tools=[get_weather], stream=True)
    result = await engine.execute("weather?")
    assert result.success and "get_weather" in result.result
    assert "".join(deltas) == result.result


async def test_cancelling_a_turn_leaves_the_context_consistent(bus: MessageBus) -> None:
    started = asyncio.Event()

    @tool
    async def slow_lookup(query: str) -> str:
        """A slow lookup.

        Args:
            query: What to look up.
        """
        started.set()
        await asyncio.sleep(60)
        return "never"

    model = ScriptedModel(
        [priced(calls=[ToolCall("c1", "slow_lookup", '{"query": "q"}')]), priced("fine")]
    )
    engine = ToolChatEngine(model=model, tools=[slow_lookup])
    turn = asyncio.create_task(engine.execute("look it up"))
    await asyncio.wait_for(started.wait(), timeout=10)
    turn.cancel()
    with pytest.raises(asyncio.CancelledError):
        await turn
    assert engine.context.chat_history == []
    assert (await engine.execute("next")).result == "fine"
    roles = [m["role"] for m in engine.context.chat_history]
    assert roles == ["user", "assistant"]


async def test_engine_function_from_a_script(bus: MessageBus) -> None:
    answer = await use_tool_chat_engine("weather?", model="test", tools=[get_weather])
    assert answer.startswith("Tool results: get_weather")
    with pytest.raises(EngineError, match="Incorrect"):
        await use_tool_chat_engine(
            "x",
            model=ScriptedModel(
                [ProviderAuthError("Incorrect key", provider="p", model="m", status=401)]
            ),
        )


async def test_anthropic_format_tools_for_anthropic_models(bus: MessageBus) -> None:
    seen: list[Any] = []

    def reply(messages: list[dict[str, Any]], info: Any) -> str:
        seen.append(info.tools)
        return "done"

    model = FunctionModel(reply)
    model.provider = "anthropic"
    engine = ToolChatEngine(model=model, tools=[get_weather])
    await engine.execute("hi")
    assert seen[0][0]["name"] == "get_weather" and "input_schema" in seen[0][0]


async def test_set_model_system_prompt_and_clear(bus: MessageBus) -> None:
    engine = ToolChatEngine(model=ScriptedModel(["a"]), system_prompt="first")
    engine.set_system_prompt("second")
    engine.set_model("test")
    result = await engine.execute("hi")
    assert result.success
    assert engine.system_prompt == "second"
    assert engine.model.provider == "test"
    engine.clear_context()
    assert engine.context.chat_history == []
    assert "get_weather" not in engine.tool_names


async def test_thinking_is_published_apart_and_kept_in_the_context(bus: MessageBus) -> None:
    def stream_fn(messages: list[dict[str, Any]], info: Any) -> list[Any]:
        if messages[-1]["role"] == "user":
            return [
                ThinkingDelta("Weather first. "),
                ThinkingDelta("Then answer."),
                ToolCallDelta(0, id="c1", name="get_weather", arguments='{"city": "Oslo"}'),
            ]
        return ["Oslo: 17 C."]

    engine = ToolChatEngine(
        "s1", model=FunctionModel(stream_fn=stream_fn), tools=[get_weather], stream=True
    )
    thoughts: list[str] = []
    texts: list[str] = []
    bus.register_event_handler(EngineThinkingDeltaEvent, lambda e: thoughts.append(e.text), "s1")
    bus.register_event_handler(EngineTextDeltaEvent, lambda e: texts.append(e.text), "s1")
    result = await engine.execute("Weather in Oslo?")
    assert result.success and result.result == "Oslo: 17 C."
    assert thoughts == ["Weather first. ", "Then answer."]
    assert "".join(texts) == "Oslo: 17 C."  # thinking never mixed into the answer
    calling = engine.context.chat_history[1]
    assert calling["tool_calls"][0]["function"]["name"] == "get_weather"
    assert calling["thinking_blocks"] == [
        {"type": "thinking", "thinking": "Weather first. Then answer."}
    ]


async def test_without_streaming_the_thinking_is_published_once(bus: MessageBus) -> None:
    answer = priced("Done.")
    answer.thinking_blocks = [ThinkingPart("I know this.", "sig")]
    engine = ToolChatEngine("s1", model=ScriptedModel([answer]))
    thoughts: list[str] = []
    bus.register_event_handler(EngineThinkingDeltaEvent, lambda e: thoughts.append(e.text), "s1")
    assert (await engine.execute("Hi")).result == "Done."
    assert thoughts == ["I know this."]
    assert engine.context.chat_history[-1]["thinking_blocks"] == [
        {"type": "thinking", "thinking": "I know this.", "signature": "sig"}
    ]
