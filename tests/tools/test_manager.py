"""ToolManager: registration, formats, and safe, concurrent execution."""

import asyncio
import threading
import time
from pathlib import Path

import pytest

from llmgine.bus.bus import MessageBus
from llmgine.errors import ToolDefinitionError
from llmgine.messages import CommandResult
from llmgine.testing import FakeMessageBus
from llmgine.tools import ToolCall, tool
from llmgine.tools.events import (
    ToolApprovalCommand,
    ToolExecuteResultEvent,
    ToolRegisterEvent,
)
from llmgine.tools.manager import ToolManager


def get_weather(city: str, days: int = 1) -> str:
    """Weather forecast for a city.

    Args:
        city: Name of the city.
        days: How many days ahead.
    """
    return f"{city}: sunny for {days} day(s)"


@tool(name="add_numbers", description="Add two integers.")
async def add(a: int, b: int) -> int:
    return a + b


def explode(reason: str) -> None:
    """Always fails.

    Args:
        reason: Why.
    """
    raise RuntimeError(f"exploded because {reason}")


def call(name: str, arguments: str, call_id: str = "call_1") -> ToolCall:
    return ToolCall(id=call_id, name=name, arguments=arguments)


@pytest.fixture
async def manager(bus: MessageBus) -> ToolManager:
    tools = ToolManager("engine-1", "session-1", events=bus, approvals=bus)
    await tools.register_tools(get_weather, add, explode)
    return tools


async def test_registration_publishes_events_and_keeps_functions_callable(
    bus: MessageBus,
) -> None:
    registered: list[ToolRegisterEvent] = []
    bus.register_event_handler(ToolRegisterEvent, registered.append, session_id="GLOBAL")
    tools = ToolManager("engine-1", "s", events=bus)
    await tools.register_tool(get_weather)
    await tools.register_tool(add)
    assert tools.tool_names == ["get_weather", "add_numbers"]
    assert [e.tool_info["name"] for e in registered] == ["get_weather", "add_numbers"]
    assert registered[0].engine_id == "engine-1" and registered[0].session_id == "s"
    assert await add(2, 3) == 5  # the decorator leaves a normal function


async def test_get_tools_in_each_format(manager: ToolManager, bus: MessageBus) -> None:
    openai_tools = await manager.get_tools()
    assert openai_tools[0]["type"] == "function"
    assert openai_tools[0]["function"]["name"] == "get_weather"
    anthropic = await ToolManager("e", "s", llm_model_name="claude").get_tools()
    assert anthropic == []
    claude = ToolManager("e", "s", llm_model_name="anthropic:claude-3-5-haiku-latest")
    await claude.register_tool(get_weather)
    (formatted,) = await claude.get_tools()
    assert set(formatted) == {"name", "description", "input_schema"}
    assert await manager.get_tools() == openai_tools  # built once, the same each time


async def test_a_valid_call_runs_with_coerced_arguments(manager: ToolManager) -> None:
    result = await manager.execute_tool_call(call("get_weather", '{"city": "Oslo", "days": "3"}'))
    assert not result.is_error
    assert result.value == "Oslo: sunny for 3 day(s)"
    assert result.content == result.value
    assert result.tool_call_id == "call_1" and result.name == "get_weather"
    assert result.to_message() == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "Oslo: sunny for 3 day(s)",
    }
    total = await manager.execute_tool_call(call("add_numbers", '{"a": 2, "b": 40}'))
    assert total.value == 42 and total.content == "42"


async def test_malformed_json(manager: ToolManager) -> None:
    result = await manager.execute_tool_call(call("get_weather", '{"city": "Oslo"'))
    assert result.is_error and result.value is None
    assert "not valid JSON" in result.content and "get_weather" in result.content


async def test_arguments_that_are_not_an_object(manager: ToolManager) -> None:
    result = await manager.execute_tool_call(call("get_weather", '["Oslo"]'))
    assert result.is_error and "must be a JSON object" in result.content


async def test_unknown_tool_lists_the_available_ones(manager: ToolManager) -> None:
    result = await manager.execute_tool_call(call("get_wether", "{}"))
    assert result.is_error
    assert "get_wether" in result.content
    assert "get_weather" in result.content and "add_numbers" in result.content


async def test_invalid_arguments_name_the_argument_and_expectation(
    manager: ToolManager,
) -> None:
    result = await manager.execute_tool_call(
        call("get_weather", '{"days": "many", "country": "NO"}')
    )
    assert result.is_error
    text = result.content
    assert "city: required but missing" in text
    assert "days:" in text and "integer" in text and '"many"' in text
    assert "country: not a parameter of get_weather" in text


async def test_an_exception_inside_a_tool_becomes_an_error_result(bus: MessageBus) -> None:
    shown = ToolManager("e", "s")
    await shown.register_tool(explode)
    result = await shown.execute_tool_call(call("explode", '{"reason": "secret plan"}'))
    assert result.is_error
    assert "RuntimeError" in result.content and "secret plan" in result.content

    hidden = ToolManager("e", "s", show_exception_details=False)
    await hidden.register_tool(explode)
    result = await hidden.execute_tool_call(call("explode", '{"reason": "secret plan"}'))
    assert result.is_error and "RuntimeError" in result.content
    assert "secret plan" not in result.content


async def test_a_slow_tool_times_out(bus: MessageBus) -> None:
    @tool(timeout=0.05)
    async def slow() -> str:
        """Never finishes in time."""
        await asyncio.sleep(30)
        return "done"

    tools = ToolManager("e", "s")
    await tools.register_tool(slow)
    result = await asyncio.wait_for(tools.execute_tool_call(call("slow", "{}")), timeout=10)
    assert result.is_error and "did not finish within 0.05 seconds" in result.content


async def test_sync_tools_run_in_a_thread_and_do_not_block_the_loop(bus: MessageBus) -> None:
    released = threading.Event()

    def waits_for_the_loop() -> bool:
        """Waits until the event loop sets the flag."""
        return released.wait(timeout=10)

    async def release() -> None:
        await asyncio.sleep(0)
        released.set()

    tools = ToolManager("e", "s")
    await tools.register_tool(waits_for_the_loop)
    result, _ = await asyncio.gather(
        tools.execute_tool_call(call("waits_for_the_loop", "{}")), release()
    )
    assert result.value is True  # the loop ran release() while the tool was waiting


async def test_calls_of_one_turn_run_concurrently_and_keep_their_order(bus: MessageBus) -> None:
    async def nap(label: str) -> str:
        """Sleeps 200 ms.

        Args:
            label: Echoed back.
        """
        await asyncio.sleep(0.2)
        return label

    tools = ToolManager("e", "s")
    await tools.register_tool(nap)
    calls = [call("nap", f'{{"label": "{n}"}}', f"c{n}") for n in range(3)]
    start = time.perf_counter()
    results = await tools.execute_tool_calls(calls)
    elapsed = time.perf_counter() - start
    assert [r.value for r in results] == ["0", "1", "2"]
    assert [r.tool_call_id for r in results] == ["c0", "c1", "c2"]
    assert elapsed < 0.5  # three 200 ms tools, one after another, would take 600 ms


async def test_sequential_tools_run_alone_and_per_tool_limits_hold(bus: MessageBus) -> None:
    running: list[str] = []
    overlaps: list[tuple[str, ...]] = []

    async def track(name: str) -> str:
        running.append(name)
        overlaps.append(tuple(running))
        await asyncio.sleep(0.02)
        running.remove(name)
        return name

    @tool(sequential=True)
    async def migrate() -> str:
        """Must not run beside anything."""
        return await track("migrate")

    @tool(max_concurrency=1)
    async def single() -> str:
        """One at a time."""
        return await track("single")

    async def free() -> str:
        """Anything goes."""
        return await track("free")

    tools = ToolManager("e", "s")
    await tools.register_tools(migrate, single, free)
    names = ["free", "single", "single", "migrate", "free", "free"]
    results = await tools.execute_tool_calls([call(n, "{}", f"c{i}") for i, n in enumerate(names)])
    assert [r.value for r in results] == names
    assert ("migrate",) in overlaps
    assert all(len(o) == 1 for o in overlaps if "migrate" in o)
    assert all(o.count("single") <= 1 for o in overlaps)
    assert any(len(o) > 1 for o in overlaps)  # the others did overlap


async def test_approval_granted_and_refused(bus: MessageBus) -> None:
    @tool(requires_approval=True)
    def delete_file(path: str) -> str:
        """Delete a file.

        Args:
            path: Which file.
        """
        return f"deleted {path}"

    asked: list[ToolApprovalCommand] = []

    def decide(command: ToolApprovalCommand) -> CommandResult:
        asked.append(command)
        return CommandResult(success=True, result=command.arguments["path"] != "/etc/passwd")

    tools = ToolManager("e", "s1", approvals=bus)
    await tools.register_tool(delete_file)
    bus.register_command_handler(ToolApprovalCommand, decide)
    ok = await tools.execute_tool_call(call("delete_file", '{"path": "/tmp/x"}'))
    no = await tools.execute_tool_call(call("delete_file", '{"path": "/etc/passwd"}'))
    assert ok.value == "deleted /tmp/x" and not ok.is_error
    assert no.is_error and "user declined" in no.content and no.value is None
    assert [c.arguments["path"] for c in asked] == ["/tmp/x", "/etc/passwd"]
    assert asked[0].tool_name == "delete_file" and asked[0].session_id == "s1"


async def test_approval_without_a_handler_has_a_documented_default(bus: MessageBus) -> None:
    @tool(requires_approval=True)
    def risky() -> str:
        """Does something risky."""
        return "done"

    for denying in (ToolManager("e", "s"), ToolManager("e", "s", approvals=bus)):
        await denying.register_tool(risky)
        result = await denying.execute_tool_call(call("risky", "{}"))
        assert result.is_error and "approval" in result.content

    allowing = ToolManager("e", "s", approve_when_unhandled="allow")
    await allowing.register_tool(risky)
    assert (await allowing.execute_tool_call(call("risky", "{}"))).value == "done"


async def test_execution_events(manager: ToolManager, bus: MessageBus) -> None:
    events: list[ToolExecuteResultEvent] = []
    bus.register_event_handler(ToolExecuteResultEvent, events.append, session_id="session-1")
    await manager.execute_tool_call(call("get_weather", '{"city": "Rome"}', "a"))
    await manager.execute_tool_call(call("get_weather", "{oops", "b"))
    good, bad = events
    assert good.success and good.tool_name == "get_weather" and good.tool_call_id == "a"
    assert good.arguments == {"city": "Rome", "days": 1}
    assert good.result == "Rome: sunny for 1 day(s)" and good.duration_s >= 0
    assert not bad.success and bad.is_error and bad.arguments == "{oops"
    assert "not valid JSON" in bad.result
    assert good.error_type is None and bad.error_type == "invalid_arguments"


async def test_each_failure_names_its_error_type(manager: ToolManager, bus: MessageBus) -> None:
    events: list[ToolExecuteResultEvent] = []
    bus.register_event_handler(ToolExecuteResultEvent, events.append, session_id="session-1")
    await manager.execute_tool_call(call("explode", '{"reason": "testing"}', "a"))
    await manager.execute_tool_call(call("no_such_tool", "{}", "b"))
    await manager.execute_tool_call(call("add_numbers", '{"a": "x", "b": 1}', "c"))
    assert [e.error_type for e in events] == ["RuntimeError", "unknown_tool", "invalid_arguments"]


async def test_no_events_are_built_without_a_sink_or_a_listener(bus: MessageBus) -> None:
    silent = ToolManager("e", "s")  # no sink: publishes nothing
    await silent.register_tool(get_weather)
    assert (await silent.execute_tool_call(call("get_weather", '{"city": "Rome"}'))).value
    fake = FakeMessageBus()
    recorded = ToolManager("e", "s", events=fake)
    await recorded.register_tool(get_weather)
    await recorded.execute_tool_call(call("get_weather", '{"city": "Rome"}'))
    assert [type(e).__name__ for e in fake.published_events] == [
        "ToolRegisterEvent",
        "ToolCallStartedEvent",
        "ToolExecuteResultEvent",
    ]
    started, finished = fake.published_events[1:]
    assert finished.parent_id == started.event_id  # the result is the call's child
    assert started.arguments == {"city": "Rome"}


async def test_register_tools_from_a_file_and_a_module_path(
    bus: MessageBus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = '''
from llmgine import tool

@tool
def shout(text: str) -> str:
    """Upper-case the text.

    Args:
        text: What to shout.
    """
    return text.upper()

def helper() -> None:
    """Not a tool: not decorated."""
'''
    path = tmp_path / "my_tools.py"
    path.write_text(source)
    from_file = ToolManager("e", "s")
    await from_file.register_tools(str(path))
    assert from_file.tool_names == ["shout"]
    result = await from_file.execute_tool_call(call("shout", '{"text": "hi"}'))
    assert result.value == "HI"

    monkeypatch.syspath_prepend(str(tmp_path))
    from_module = ToolManager("e", "s")
    await from_module.register_tools("my_tools")
    assert from_module.tool_names == ["shout"]


@pytest.mark.parametrize(
    ("source", "message"),
    [("no_such_module_xyz", "cannot import"), ("/nope/missing.py", "does not exist")],
)
async def test_bad_tool_sources_are_clear_errors(
    bus: MessageBus, source: str, message: str
) -> None:
    with pytest.raises(ToolDefinitionError, match=message):
        await ToolManager("e", "s").register_tools(source)


async def test_a_module_without_tools_is_an_error(bus: MessageBus) -> None:
    import json

    with pytest.raises(ToolDefinitionError, match="no @tool functions"):
        await ToolManager("e", "s").register_tools(json)


# -- secrets ------------------------------------------------------------------------

# Built from pieces so no scanner mistakes it for a real key.
FAKE_KEY = "sk-proj-" + "FakeToolSecret" * 3


def leaky_fetch(url: str) -> str:
    """Fetch a page.

    Args:
        url: The page.
    """
    raise PermissionError(f"401 from {url} with Authorization: Bearer {FAKE_KEY}")


def config_dump() -> str:
    """The service configuration."""
    return f"endpoint=https://api.example.com key={FAKE_KEY}"


async def test_a_tools_exception_text_is_masked_before_it_leaves(
    bus: MessageBus, caplog: pytest.LogCaptureFixture
) -> None:
    manager = ToolManager("e", "s", events=bus)
    await manager.register_tool(leaky_fetch)
    events: list[ToolExecuteResultEvent] = []
    bus.register_event_handler(ToolExecuteResultEvent, events.append, "s")
    with caplog.at_level("INFO", logger="llmgine.tools"):
        result = await manager.execute_tool_call(call("leaky_fetch", '{"url": "https://x.io"}'))
    assert result.is_error
    assert FAKE_KEY not in result.content
    assert result.content.startswith("Error: leaky_fetch failed with PermissionError: 401 from")
    assert "***" in result.content
    assert all(FAKE_KEY not in event.result for event in events)
    assert "leaky_fetch raised PermissionError" in caplog.text
    assert FAKE_KEY not in caplog.text


async def test_a_result_holding_a_secret_is_masked_for_the_model(bus: MessageBus) -> None:
    manager = ToolManager("e", "s", events=bus)
    await manager.register_tool(config_dump)
    result = await manager.execute_tool_call(call("config_dump", "{}"))
    assert not result.is_error
    assert result.content == "endpoint=https://api.example.com key=***"
    assert result.value == config_dump()  # the program still gets what the tool returned
