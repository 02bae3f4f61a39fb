"""MCP servers' tools in the ToolManager and the tool-chat engine, in process (no transport).

The servers are real SDK servers (``mcp_demo_server.build_server`` and small
ones built here); only the transport is skipped.
"""

import asyncio
import base64
from typing import Any

import pytest
from mcp.server.mcpserver import MCPServer as SDKServer
from mcp_demo_server import PIXEL, build_server

from llmgine.bus.bus import MessageBus
from llmgine.engines import ToolChatEngine, use_tool_chat_engine
from llmgine.errors import ToolDefinitionError
from llmgine.messages import CommandResult
from llmgine.models.anthropic_format import to_anthropic_messages
from llmgine.testing import ScriptedModel
from llmgine.tools import (
    MCPServer,
    MCPServerStatusEvent,
    ToolApprovalCommand,
    ToolCall,
    ToolExecuteResultEvent,
    ToolManager,
    ToolRegisterEvent,
    tool,
)


def demo(prefix: str | None = "demo", **options: Any) -> MCPServer:
    return MCPServer.in_process(build_server("CRITICAL"), prefix=prefix, **options)


def call(name: str, arguments: str = "{}", call_id: str = "c1") -> ToolCall:
    return ToolCall(id=call_id, name=name, arguments=arguments)


class CountingServer(SDKServer):  # type: ignore[misc]
    """An SDK server that counts the tool listings it answers."""

    listings = 0

    async def list_tools(self) -> Any:
        self.listings += 1
        return await super().list_tools()


def counting_server() -> CountingServer:
    server = CountingServer("counter", log_level="CRITICAL")
    received: list[dict[str, Any]] = []
    server.received = received  # type: ignore[attr-defined]

    @server.tool()
    def record(word: str, times: int = 1) -> str:
        """Remember a word."""
        received.append({"word": word, "times": times})
        return " ".join([word] * times)

    return server


async def test_the_tools_are_registered_with_their_server_and_events(bus: MessageBus) -> None:
    registered: list[ToolRegisterEvent] = []
    statuses: list[MCPServerStatusEvent] = []
    bus.register_event_handler(ToolRegisterEvent, registered.append, "s1")
    bus.register_event_handler(MCPServerStatusEvent, statuses.append, "s1")
    manager = ToolManager("e1", "s1", events=bus)
    server = demo()
    tools = await manager.add_mcp_server(server)
    try:
        assert {t.name for t in tools} >= {"demo_add", "demo_echo", "demo_destructive_delete"}
        assert all(t.server == "demo" and manager.tools[t.name] is t for t in tools)
        assert [e.tool_info["server"] for e in registered] == ["demo"] * len(tools)
        assert [(e.server, e.status) for e in statuses] == [("demo", "connected")]
        assert statuses[0].tools == [t.name for t in tools] and "tools" in statuses[0].detail
        assert manager.mcp_servers == [server] and server.connected
        assert await manager.add_mcp_server(server) == tools  # added once
    finally:
        await manager.close()
    assert not server.connected and not manager.tools and manager.mcp_servers == []
    assert statuses[-1].status == "closed"


async def test_calls_go_through_the_manager_like_functions(bus: MessageBus) -> None:
    results: list[ToolExecuteResultEvent] = []
    bus.register_event_handler(ToolExecuteResultEvent, results.append, "s1")
    manager = ToolManager("e1", "s1", events=bus)
    await manager.add_mcp_server(demo())
    try:
        added = await manager.execute_tool_call(call("demo_add", '{"a": 2, "b": 40}'))
        echoed = await manager.execute_tool_call(call("demo_echo", '{"text": "hi"}', "c2"))
        failed = await manager.execute_tool_call(call("demo_boom", "{}", "c3"))
    finally:
        await manager.close()
    assert not added.is_error and added.value == {"total": 42} and '"total": 42' in added.content
    assert echoed.content == "hi" and echoed.value == {"result": "hi"}
    assert failed.is_error and failed.content == "Error executing tool boom"
    assert [(r.tool_name, r.is_error) for r in results] == [
        ("demo_add", False),
        ("demo_echo", False),
        ("demo_boom", True),
    ]
    assert results[0].arguments == {"a": 2, "b": 40}
    assert {r.server for r in results} == {"demo"}  # the server each result came from


async def test_bad_arguments_are_fed_back_and_never_reach_the_server() -> None:
    sdk = counting_server()
    manager = ToolManager()
    await manager.add_mcp_server(MCPServer.in_process(sdk))
    try:
        bad = await manager.execute_tool_call(call("record", '{"times": "two"}'))
        malformed = await manager.execute_tool_call(call("record", '{"word": '))
        good = await manager.execute_tool_call(call("record", '{"word": "hey", "times": 2}'))
    finally:
        await manager.close()
    assert bad.is_error and "- word: required but missing" in bad.content
    assert "- times: 'two' is not of type 'integer'" in bad.content
    assert malformed.is_error and "not valid JSON" in malformed.content
    assert good.content == "hey hey"
    assert sdk.received == [{"word": "hey", "times": 2}]  # type: ignore[attr-defined]


async def test_destructive_tools_ask_for_approval(bus: MessageBus) -> None:
    asked: list[ToolApprovalCommand] = []

    def decide(command: ToolApprovalCommand) -> CommandResult:
        asked.append(command)
        return CommandResult(success=True, result=command.arguments["path"] == "/tmp/x")

    bus.register_command_handler(ToolApprovalCommand, decide)
    manager = ToolManager("e1", "s1", events=bus, approvals=bus)
    await manager.add_mcp_server(demo())
    try:
        allowed = await manager.execute_tool_call(
            call("demo_destructive_delete", '{"path": "/tmp/x"}')
        )
        declined = await manager.execute_tool_call(
            call("demo_destructive_delete", '{"path": "/etc"}', "c2")
        )
        read_only = await manager.execute_tool_call(call("demo_peek", '{"path": "/etc"}', "c3"))
    finally:
        await manager.close()
    assert allowed.content == "deleted /tmp/x"
    assert declined.is_error and "declined" in declined.content
    assert read_only.content == "peeked at /etc"  # marked read-only: not asked
    assert [c.tool_name for c in asked] == ["demo_destructive_delete"] * 2


async def test_approval_can_be_set_for_the_server() -> None:
    manager = ToolManager()  # nobody answers approvals: such calls are not run
    await manager.add_mcp_server(demo(requires_approval={"echo"}))
    try:
        echoed = await manager.execute_tool_call(call("demo_echo", '{"text": "hi"}'))
        deleted = await manager.execute_tool_call(call("demo_destructive_delete", '{"path": "/x"}'))
    finally:
        await manager.close()
    assert echoed.is_error and "needs the user's approval" in echoed.content
    assert deleted.content == "deleted /x"


async def test_a_slow_call_times_out_and_the_server_still_answers() -> None:
    manager = ToolManager()
    await manager.add_mcp_server(demo(timeout=0.5))
    try:
        slow = await manager.execute_tool_call(call("demo_slow", '{"seconds": 30}'))
        after = await manager.execute_tool_call(call("demo_echo", '{"text": "still here"}'))
    finally:
        await manager.close()
    assert slow.is_error and slow.duration_s < 10
    assert slow.content == "Error: the MCP server demo did not answer slow within 0.5 s."
    assert after.content == "still here"


async def test_the_tool_list_is_fetched_once_and_again_when_it_changes(bus: MessageBus) -> None:
    changed = asyncio.Event()
    statuses: list[MCPServerStatusEvent] = []

    def on_status(event: MCPServerStatusEvent) -> None:
        statuses.append(event)
        if event.status == "tools_changed":
            changed.set()

    bus.register_event_handler(MCPServerStatusEvent, on_status, "s1")
    sdk = build_server("CRITICAL", server_class=CountingServer)
    seen: list[int] = []  # listings answered when the model was called

    def reply(answer: Any) -> Any:
        def answer_now(messages: Any) -> Any:
            seen.append(sdk.listings)
            return answer

        return answer_now

    model = ScriptedModel(
        [
            reply([call("echo", '{"text": "one"}')]),
            reply([call("echo", '{"text": "two"}', "c2")]),
            reply([call("toggle_tools", "{}", "c3")]),
            reply("done"),
        ]
    )
    engine = ToolChatEngine("s1", model=model, tools=[MCPServer.in_process(sdk)], bus=bus)
    try:
        result = await engine.execute("go")
        assert result.success, result.error
        assert seen[:3] == [1, 1, 1]  # one listing for the first three model calls
        await asyncio.wait_for(changed.wait(), 10)
        assert sdk.listings == 2 and "extra" in engine.tool_manager.tools
        names = [t["function"]["name"] for t in await engine.tool_manager.get_tools()]
        assert "extra" in names
        assert statuses[-1].tools[-1] == "extra"
    finally:
        await engine.close()


async def test_a_name_clash_names_both_sources_and_suggests_a_prefix() -> None:
    @tool
    def echo(text: str) -> str:
        """Echo."""
        return text

    manager = ToolManager()
    await manager.register_tool(echo)
    second = demo(prefix=None)
    with pytest.raises(
        ToolDefinitionError, match="has a tool 'echo', and so has a function"
    ) as caught:
        await manager.add_mcp_server(second)
    assert "prefix=" in str(caught.value)
    assert not second.connected and manager.tool_names == ["echo"]  # started here, closed here
    other = ToolManager()
    await other.add_mcp_server(demo(prefix=None))
    try:
        with pytest.raises(ToolDefinitionError, match="so has the MCP server demo"):
            await other.add_mcp_server(demo(prefix=None, name="again"))
        with pytest.raises(ToolDefinitionError, match="already the name of a tool of the MCP"):
            await other.register_tool(echo)
    finally:
        await other.close()


async def test_images_reach_anthropic_as_images_and_openai_as_text(bus: MessageBus) -> None:
    model = ScriptedModel([[call("picture")], "a red pixel it is"])
    engine = ToolChatEngine(
        "s1", model=model, tools=[MCPServer.in_process(build_server("CRITICAL"))], bus=bus
    )
    try:
        assert await engine.answer("show me") == "a red pixel it is"
    finally:
        await engine.close()
    sent = model.requests[-1].messages
    tool_message = next(m for m in sent if m.get("role") == "tool")
    assert isinstance(tool_message["content"], list)
    text, image = tool_message["content"]
    size = len(base64.b64decode(PIXEL))
    assert text == {"type": "text", "text": f"a red pixel\n[image/png, {size} bytes]"}
    assert image["image_url"]["url"].startswith("data:image/png;base64,iVBOR")
    _, anthropic = to_anthropic_messages(sent)
    result_block = anthropic[-1]["content"][0]
    assert result_block["type"] == "tool_result"
    kinds = [block["type"] for block in result_block["content"]]
    assert kinds == ["text", "image"]
    assert result_block["content"][1]["source"]["media_type"] == "image/png"


async def test_an_engine_turn_mixes_functions_and_mcp_tools(bus: MessageBus) -> None:
    @tool
    def shout(text: str) -> str:
        """Upper-case the text."""
        return text.upper()

    results: list[ToolExecuteResultEvent] = []
    bus.register_event_handler(ToolExecuteResultEvent, results.append, "s1")
    model = ScriptedModel(
        [
            [call("shout", '{"text": "hi"}'), call("demo_add", '{"a": 1, "b": 2}', "c2")],
            "HI, and 3",
        ]
    )
    server = demo()
    engine = ToolChatEngine("s1", model=model, tools=[shout, server], bus=bus)
    result = await engine.execute("go")
    assert result.success and result.result == "HI, and 3"
    offered = [t["function"]["name"] for t in model.requests[0].tools or []]
    assert offered[0] == "shout" and "demo_add" in offered
    assert [(r.tool_name, r.result) for r in results] == [
        ("shout", "HI"),
        ("demo_add", '{\n  "total": 3\n}'),
    ]
    assert server.connected
    await engine.close()
    assert not server.connected and engine.tool_manager.tool_names == ["shout"]


async def test_use_tool_chat_engine_stops_the_servers_it_started() -> None:
    server = demo()
    model = ScriptedModel([[call("demo_echo", '{"text": "pong"}')], "pong"])
    assert await use_tool_chat_engine("ping", model=model, tools=[server]) == "pong"
    assert not server.connected


async def test_a_server_you_opened_stays_open_and_calls_after_close_fail() -> None:
    async with demo() as server:
        manager = ToolManager()
        await manager.add_mcp_server(server)
        await manager.close()
        assert server.connected  # yours: you close it
        assert (await server.call_tool("echo", {"text": "x"})).content[0].text == "x"
    manager = ToolManager()
    await manager.add_mcp_server(server)  # closed: started again, by this manager
    await server.close()
    result = await manager.execute_tool_call(call("demo_echo", '{"text": "x"}'))
    assert result.is_error and "is closed" in result.content
    await manager.close()


async def test_closing_from_another_task_is_clean() -> None:
    manager = ToolManager()
    server = demo()
    await asyncio.create_task(manager.add_mcp_server(server))
    assert (await manager.execute_tool_call(call("demo_echo", '{"text": "a"}'))).content == "a"
    await asyncio.create_task(manager.close())
    assert not server.connected


async def test_a_run_with_mcp_tools_replays_from_its_log(recording: Any) -> None:
    """The log names each MCP tool's server; a replay offers the tools and answers from it."""
    from llmgine.engines.replay import replay_log

    model = ScriptedModel([call("demo_add", '{"a": 2, "b": 40}'), "It is 42."])
    engine = ToolChatEngine("mcp-run", model=model, tools=[demo()])
    try:
        assert (await engine.execute("What is 2 + 40?")).result == "It is 42."
    finally:
        await engine.close()
    journal = recording.journal()
    (header,) = [e for e in journal.entries if e.type == "RunStartedEvent"]
    assert {tool.get("server") for tool in header.get("tools")} == {"demo"}
    (result,) = [e for e in journal.entries if e.type == "ToolExecuteResultEvent"]
    assert result.get("server") == "demo" and '"total": 42' in result.get("result")
    outcome = await replay_log(recording.files())  # no MCP server runs in the replay
    assert outcome.matched, "\n".join(outcome.diff)
