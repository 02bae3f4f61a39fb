"""``llmgine mcp serve``: LLMgine's tools served over MCP, checked with LLMgine's own MCP client."""

import asyncio
import json
import logging
import sys
from pathlib import Path

import pytest

from llmgine.cli.main import main
from llmgine.tools import (
    MCPServer,
    ToolCall,
    ToolManager,
    ToolOutput,
    build_tool,
    tool,
)
from llmgine.tools.loading import collect_tools
from llmgine.tools.mcp.serve import build_mcp_server

ROOT = Path(__file__).resolve().parents[2]
WEATHER = ROOT / "tools" / "weather.py"
LLMGINE = Path(sys.executable).with_name("llmgine")
get_weather, get_forecast = collect_tools([str(WEATHER)])  # the functions the file defines


def call(name: str, arguments: str = "{}") -> ToolCall:
    return ToolCall(id=f"call-{name}", name=name, arguments=arguments)


async def check_the_weather_tools(manager: ToolManager) -> None:
    for function in (get_weather, get_forecast):
        mine, served = build_tool(function), manager.tools[function.__name__]
        assert served.parameters == mine.parameters  # LLMgine's schema, as it builds it
        assert served.description == mine.description and served.strict == mine.strict
    perth = await manager.execute_tool_call(call("get_weather", '{"city": "Perth"}'))
    assert perth.content == get_weather("Perth")
    days = await manager.execute_tool_call(call("get_forecast", '{"city": "Perth", "days": 2}'))
    assert json.loads(days.content) == get_forecast("Perth", 2)
    too_many = await manager.execute_tool_call(call("get_forecast", '{"city": "Perth", "days": 9}'))
    assert too_many.is_error and "days must be between 1 and 7" in too_many.content


NOISY = """
from llmgine import tool

print("loading noisy tools")  # stdout at import: must not reach the protocol


@tool
def shout(text: str) -> str:
    \"\"\"Upper-case the text.\"\"\"
    print("shouting", text)  # and while serving
    return text.upper()
"""


async def test_serve_files_over_stdio(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    noisy = tmp_path / "noisy.py"
    noisy.write_text(NOISY)
    server = MCPServer.stdio(
        str(LLMGINE), ["mcp", "serve", str(WEATHER), str(noisy)], connect_timeout=60
    )
    manager = ToolManager()
    await manager.add_mcp_server(server)
    try:
        await check_the_weather_tools(manager)
        assert server.name == "weather"
        shouted = await manager.execute_tool_call(call("shout", '{"text": "hi"}'))
    finally:
        await manager.close()
    assert shouted.content == "HI"
    # What the tool printed never reached the protocol's stream, not even at exit.
    strays = [r.getMessage() for r in caplog.records if "JSONRPC" in r.getMessage()]
    assert strays == []


async def test_serve_a_file_over_http_on_a_free_port() -> None:
    proc = await asyncio.create_subprocess_exec(
        str(LLMGINE),
        *["mcp", "serve", str(WEATHER), "--http", "0"],
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        line = (await proc.stderr.readline()).decode()  # printed once the port is bound
        assert line.startswith("llmgine mcp serve: 2 tools at http://127.0.0.1:"), line
        manager = ToolManager()
        await manager.add_mcp_server(MCPServer.http(line.split(" at ")[1].strip()))
        try:
            await check_the_weather_tools(manager)
        finally:
            await manager.close()
    finally:
        proc.kill()
        await proc.wait()


@tool(requires_approval=True)
def wipe(path: str) -> str:
    """Delete everything under a path.

    Args:
        path: The folder.
    """
    return f"wiped {path}"


@tool
def snapshot() -> ToolOutput:
    """A picture of the screen."""
    part = {"type": "image_url", "image_url": {"url": "data:image/png;base64,aGVsbG8="}}
    text = "the screen\n[image/png, 5 bytes]"
    return ToolOutput(text=text, parts=[{"type": "text", "text": text}, part])


async def test_served_tools_keep_approval_and_images_on_the_other_side() -> None:
    served = ToolManager(approve_when_unhandled="allow")
    await served.register_tools(wipe, snapshot)
    client = ToolManager()  # no one answers approvals here: such calls are not run
    await client.add_mcp_server(MCPServer.in_process(build_mcp_server(served, "served")))
    try:
        assert client.tools["wipe"].options.requires_approval  # listed as destructive
        assert not client.tools["snapshot"].options.requires_approval
        wiped = await client.execute_tool_call(call("wipe", '{"path": "/tmp"}'))
        shot = await client.execute_tool_call(call("snapshot"))
        bad = await client.execute_tool_call(call("wipe", '{"path": 3}'))
    finally:
        await client.close()
    assert wiped.is_error and "needs the user's approval" in wiped.content
    assert shot.content.startswith("the screen\n[image/png, 5 bytes]")
    assert shot.parts is not None and shot.parts[-1]["image_url"]["url"].endswith("aGVsbG8=")
    assert bad.is_error and "path" in bad.content


@pytest.mark.parametrize("port", ["99999", "-5", "http"])
def test_a_port_that_cannot_be_is_one_error_line(
    port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["mcp", "serve", str(WEATHER), "--http", port])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--http" in err and "Traceback" not in err


async def test_a_served_tools_structured_result_is_masked_as_its_text() -> None:
    @tool
    def credentials() -> dict[str, str]:
        """The service's credentials."""
        return {"key": "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX1234", "user": "ada"}

    served = ToolManager()
    await served.register_tools(credentials)
    client = ToolManager()
    await client.add_mcp_server(MCPServer.in_process(build_mcp_server(served, "served")))
    try:
        result = await client.execute_tool_call(call("credentials"))
    finally:
        await client.close()
    assert result.value == {"key": "***", "user": "ada"} and "ABCDEFGH" not in result.content


def test_serving_a_file_without_tools_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(SystemExit) as exited:
        main(["mcp", "serve", str(empty)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "has no @tool functions" in err
    with pytest.raises(SystemExit) as bare:
        main(["mcp"])
    assert bare.value.code == 2 and "serve" in capsys.readouterr().err
