from typing import Any

from llmgine.context import InMemoryContextManager, SimpleChatHistory
from llmgine.context.memory import estimate_tokens
from llmgine.models.response import LLMResponse, RedactedThinkingPart, ThinkingPart
from llmgine.tools import ToolCall


def tool_turn(history: SimpleChatHistory, n: int) -> None:
    history.chat_history.append(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": f"c{n}a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                {"id": f"c{n}b", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            ],
        }
    )
    history.store_tool_call_result(f"c{n}a", "f", "ra")
    history.store_tool_call_result(f"c{n}b", "f", "rb")


def assert_consistent(messages: list[dict[str, Any]]) -> None:
    """Every tool result follows its call; every call has all its results."""
    open_calls: set[str] = set()
    for message in messages:
        if message["role"] == "tool":
            assert message["tool_call_id"] in open_calls, "tool result without its call"
            open_calls.discard(message["tool_call_id"])
        else:
            assert not open_calls, "tool calls left without results"
            for call in message.get("tool_calls") or []:
                open_calls.add(call["id"])
    assert not open_calls


async def test_seed_api() -> None:
    history = SimpleChatHistory("engine", "s")
    history.set_system_prompt("Be brief.")
    history.store_string("Weather?", "user")
    await history.store_assistant_message(
        LLMResponse(content=None, tool_calls=[ToolCall("c1", "get_weather", '{"city": "Oslo"}')])
    )
    history.store_tool_call_result("c1", "get_weather", "5 C")
    await history.store_assistant_message({"role": "assistant", "content": "Cold."})
    messages = await history.retrieve()
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "assistant"]
    assert messages[2]["tool_calls"][0]["function"]["arguments"] == '{"city": "Oslo"}'
    assert messages[3] == {
        "role": "tool",
        "tool_call_id": "c1",
        "name": "get_weather",
        "content": "5 C",
    }
    assert history.messages() == messages
    history.clear()
    assert await history.retrieve() == [{"role": "system", "content": "Be brief."}]


def test_rollback_to_a_checkpoint() -> None:
    history = SimpleChatHistory()
    history.store_string("one")
    mark = history.checkpoint()
    history.store_string("two")
    tool_turn(history, 1)
    history.rollback(mark)
    assert [m["content"] for m in history.messages()] == ["one"]


def test_trimming_keeps_the_system_prompt_and_whole_tool_blocks() -> None:
    history = InMemoryContextManager(max_messages=5)
    history.set_system_prompt("system")
    for n in range(4):
        history.store_string(f"question {n}")
        tool_turn(history, n)
        history.chat_history.append({"role": "assistant", "content": f"answer {n}"})
    for limit in range(1, 12):
        history.max_messages = limit
        messages = history.messages()
        assert messages[0] == {"role": "system", "content": "system"}
        body = messages[1:]
        assert 1 <= len(body) <= max(limit, 1) or len(body) == 3  # a lone tool block
        assert body[0]["role"] != "tool"
        assert_consistent(body)
    history.max_messages = 5
    assert [m["role"] for m in history.messages()[1:]] == [
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
    ]


def test_token_budget() -> None:
    history = InMemoryContextManager(max_messages=None, max_tokens=60)
    for n in range(20):
        history.store_string(f"message number {n} " + "x" * 40)
    kept = history.messages()
    assert 1 <= len(kept) < 20
    assert kept[-1]["content"].startswith("message number 19")
    history.max_tokens = 1  # the newest message is always kept
    assert len(history.messages()) == 1


async def test_thinking_blocks_are_kept_and_counted() -> None:
    response = LLMResponse(
        content=None,
        tool_calls=[ToolCall("c1", "get_weather", '{"city": "Oslo"}')],
        thinking_blocks=[ThinkingPart("x" * 400, "sig"), RedactedThinkingPart("opaque")],
    )
    history = InMemoryContextManager(max_tokens=None)
    await history.store_assistant_message(response)
    history.store_tool_call_result("c1", "get_weather", "17 C")
    stored = history.messages()[0]
    assert stored["thinking_blocks"] == [
        {"type": "thinking", "thinking": "x" * 400, "signature": "sig"},
        {"type": "redacted_thinking", "data": "opaque"},
    ]
    # The blocks are sent back with the turn, so they count against the budget.
    without = dict(stored)
    del without["thinking_blocks"]
    assert estimate_tokens(stored) >= estimate_tokens(without) + 100
