"""A tool-chat turn on an Anthropic thinking model, two tool rounds, on recorded replies.

The replies are recorded Messages API responses (tests/llm/wire): round one
thinks and asks for ``get_user_country``, round two asks for ``get_weather``,
round three answers. With thinking on, the API rejects a follow-up whose
assistant ``tool_use`` turn lost its thinking block; every follow-up here must
carry it, signature and all, exactly as the API recorded it.
"""

from collections.abc import AsyncIterator

import pytest
from wire_fixtures import recorded, recorded_reply

from fake_server import FakeProviderServer
from llmgine.bus.bus import MessageBus
from llmgine.engines.messages import EngineThinkingDeltaEvent
from llmgine.engines.tool_chat_engine import ToolChatEngine
from llmgine.models import get_model
from llmgine.models.retry import RetryPolicy
from llmgine.tools import tool
from llmgine.tools.events import ToolExecuteResultEvent


@tool
def get_user_country() -> str:
    """The country the user is in."""
    return "Mexico"


@tool
def get_weather(location: str) -> str:
    """Today's weather somewhere.

    Args:
        location: A city.
    """
    return f"18C and sunny in {location}"


@pytest.fixture
async def engine(fake_server: FakeProviderServer) -> AsyncIterator[ToolChatEngine]:
    model = get_model(
        "anthropic:claude-sonnet-4-0",
        thinking=3000,
        api_key="test-key",
        base_url=fake_server.url,
        retry=RetryPolicy(max_attempts=1),
    )
    yield ToolChatEngine(
        model=model, system_prompt=None, tools=[get_user_country, get_weather], session_id="t"
    )
    await model.aclose()


async def test_two_tool_rounds_carry_the_thinking_blocks(
    fake_server: FakeProviderServer, engine: ToolChatEngine, bus: MessageBus
) -> None:
    wire = recorded("anthropic_thinking_tool_use")
    fake_server.add(
        recorded_reply("anthropic_thinking_tool_use", "responses", 0),
        recorded_reply("anthropic_tool_use"),
        recorded_reply("anthropic_thinking_tool_use", "responses", 1),
    )
    thoughts: list[str] = []
    results: list[ToolExecuteResultEvent] = []
    bus.register_event_handler(EngineThinkingDeltaEvent, lambda e: thoughts.append(e.text), "t")
    bus.register_event_handler(ToolExecuteResultEvent, results.append, "t")

    result = await engine.execute("What is the largest city in the user country?")

    assert result.success, result.error
    assert "Mexico City" in result.result
    assert [(r.tool_name, r.result) for r in results] == [
        ("get_user_country", "Mexico"),
        ("get_weather", "18C and sunny in Paris"),
    ]
    thinking_block = wire["responses"][0]["content"][0]
    assert thoughts == [thinking_block["thinking"]]

    first, second, third = (received.json for received in fake_server.received)
    for body in (first, second, third):
        assert body["thinking"] == {"type": "enabled", "budget_tokens": 3000}
        assert [t["name"] for t in body["tools"]] == ["get_user_country", "get_weather"]

    # Round two: the assistant turn exactly as in the recorded request the API accepted.
    recorded_turn = wire["requests"][1]["messages"][1]
    assert second["messages"][1] == recorded_turn
    assert second["messages"][2]["content"][0]["tool_use_id"] == "toolu_01YGzqpRE16Vricda3Aqcejo"

    # Round three: still the same thinking block first, then the second tool round.
    messages = third["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]
    assert messages[1] == recorded_turn
    assert messages[3]["content"] == [
        {"type": "text", "text": "I'll check the current weather in Paris for you."},
        {
            "type": "tool_use",
            "id": "toolu_01NRLabsLyVHZPKxbKvkfSMn",
            "name": "get_weather",
            "input": {"location": "Paris"},
        },
    ]
    assert messages[4]["content"][0]["content"] == "18C and sunny in Paris"

    # The engine's context keeps the block for the next turn too.
    stored = [m for m in engine.context.chat_history if m.get("thinking_blocks")]
    assert [m["thinking_blocks"] for m in stored] == [[thinking_block]]
    assert result.metadata["usage"]["prompt_tokens"] == 398 + 377 + 566
