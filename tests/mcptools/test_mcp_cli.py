"""MCP on the command line: --mcp, --mcp-url, --mcp-config, /tools, and a one-shot chat."""

import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from mcp_demo_server import build_server
from rich.console import Console

from llmgine.bus.bus import MessageBus
from llmgine.cli import EngineCLI
from llmgine.cli.main import build_parser, main
from llmgine.cli.mcp_command import mcp_servers
from llmgine.engines import ToolChatEngine
from llmgine.errors import ConfigurationError
from llmgine.testing import ScriptedModel
from llmgine.tools import MCPServer, load_mcp_config, tool
from llmgine.tools.mcp import parse_mcp_command

ROOT = Path(__file__).resolve().parents[2]
LLMGINE = Path(sys.executable).with_name("llmgine")


def test_the_options_name_servers_of_every_kind(tmp_path: Path) -> None:
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"files": {"command": "npx", "args": ["fs"]}}}))
    args = build_parser().parse_args(
        [
            "chat",
            "--mcp",
            "python weather_server.py --units metric",
            "--mcp",
            "WEATHER_KEY=abc 'my server' --verbose",
            "--mcp-url",
            "http://127.0.0.1:8000/mcp",
            "--mcp-config",
            str(config),
        ]
    )
    first, second, web, files = mcp_servers(args)
    assert (first.spec.command, first.spec.args) == (
        "python",
        ("weather_server.py", "--units", "metric"),
    )
    assert first.name == "weather_server" and first.transport == "stdio"
    assert second.spec.command == "my server" and second.spec.env == {"WEATHER_KEY": "abc"}
    assert web.transport == "http" and web.target == "http://127.0.0.1:8000/mcp"
    assert files.name == "files" and files.spec.args == ("fs",)


@pytest.mark.parametrize("text", ["", "   ", "KEY=1", "python 'unclosed"])
def test_an_unusable_mcp_command_is_a_clear_error(text: str) -> None:
    with pytest.raises(ConfigurationError, match="--mcp"):
        parse_mcp_command(text)


def test_the_config_file_format_other_clients_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCS_TOKEN", "s3cret-docs-token")
    monkeypatch.delenv("UNSET_FOR_TEST", raising=False)
    config = tmp_path / "mcp.json"
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "weather": {
                        "command": "python",
                        "args": ["weather.py", "--region", "${UNSET_FOR_TEST:-au}"],
                        "env": {"WEATHER_KEY": "${DOCS_TOKEN}"},
                        "cwd": str(tmp_path),
                        "prefix": "wx",
                        "timeout": 5,
                    },
                    "docs": {
                        "type": "http",
                        "url": "http://127.0.0.1:9/mcp",
                        "headers": {"Authorization": "Bearer ${DOCS_TOKEN}"},
                    },
                    "off": {"command": "nothing", "disabled": True},
                }
            }
        )
    )
    weather, docs = load_mcp_config(config)
    assert weather.name == "weather" and weather.prefix == "wx" and weather.timeout == 5
    assert weather.spec.args == ("weather.py", "--region", "au")
    assert weather.spec.env == {"WEATHER_KEY": "s3cret-docs-token"}
    assert weather.spec.cwd == str(tmp_path)
    assert docs.spec.headers == {"Authorization": "Bearer s3cret-docs-token"}
    assert docs.mask("sent s3cret-docs-token") == "sent ***"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("{not json", "is not valid JSON (Expecting property name"),
        ('{"servers": {}}', 'has no "mcpServers" object'),
        ('{"mcpServers": {"x": {"args": []}}}', "server 'x': give \"command\""),
        (
            '{"mcpServers": {"x": {"command": "a", "env": {"K": "${NOPE_NOT_SET}"}}}}',
            "${NOPE_NOT_SET} is not set",
        ),
        (
            '{"mcpServers": {"x": {"type": "sse", "url": "http://h/sse"}}}',
            "SSE transport is not supported",
        ),
        ('{"mcpServers": {"x": {"url": "ftp://h/mcp"}}}', "is not an MCP server URL"),
        ('{"mcpServers": {"x": {"command": "a", "timeout": -1}}}', "timeout must be a positive"),
    ],
)
def test_a_bad_config_file_says_what_to_fix(
    tmp_path: Path, content: str | None, message: str
) -> None:
    config = tmp_path / "mcp.json"
    if content is not None:
        config.write_text(content)
    with pytest.raises(ConfigurationError) as caught:
        load_mcp_config(config)
    assert message in str(caught.value)


def test_a_bad_config_on_the_command_line_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(
            [
                "chat",
                "--model",
                "test",
                "--mcp-config",
                str(tmp_path / "none.json"),
                "--prompt",
                "hi",
            ]
        )
    assert exited.value.code == 2
    assert capsys.readouterr().err == f"error: MCP config {tmp_path / 'none.json'} does not exist\n"


async def test_slash_tools_shows_each_mcp_tools_server(bus: MessageBus) -> None:
    @tool
    def local(text: str) -> str:
        """A function tool."""
        return text

    engine = ToolChatEngine("s1", model=ScriptedModel([]), tools=[local], bus=bus)
    await engine.register_tools(
        local, MCPServer.in_process(build_server("CRITICAL"), prefix="demo")
    )
    console = Console(file=io.StringIO(), width=120, force_terminal=False, color_system=None)
    cli = EngineCLI("s1", console=console, bus=bus)
    cli.register_engine(engine)
    try:
        await cli.handle_input("/tools")
    finally:
        await engine.close()
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert any(line.startswith("local ") and "MCP" not in line for line in lines)
    add = next(line for line in lines if line.startswith("demo_add "))
    assert "MCP: demo" in add and "Add two integers." in add


def test_a_one_shot_chat_uses_an_mcp_servers_tools(tmp_path: Path) -> None:
    marker = f"wx-{uuid.uuid4().hex[:8]}"
    serve = f"{LLMGINE} mcp serve {ROOT / 'tools' / 'weather.py'} --name {marker}"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    proc = subprocess.run(
        [str(LLMGINE), "chat", "--model", "test", "--mcp", serve, "--prompt", "Weather?"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Tool results: get_weather: ")
    assert "get_forecast: " in proc.stdout and "Traceback" not in proc.stderr
    (log,) = (tmp_path / "logs").glob("*.jsonl")
    records = [json.loads(line) for line in log.read_text().splitlines()]
    statuses = [r["status"] for r in records if r["event_type"] == "MCPServerStatusEvent"]
    assert statuses == ["connected", "closed"]
    results = [r for r in records if r["event_type"] == "ToolExecuteResultEvent"]
    assert {r["tool_name"] for r in results} == {"get_weather", "get_forecast"}
    leftovers = [p for p in Path("/proc").glob("[0-9]*") if marker in _cmdline(p)]
    assert leftovers == []  # the server ended with the chat


def test_an_unreachable_server_url_is_one_error_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            str(LLMGINE),
            "chat",
            "--model",
            "test",
            "--mcp-url",
            "http://127.0.0.1:9/mcp",
            "--prompt",
            "hi",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith(
        "error: MCP server 127.0.0.1 (http://127.0.0.1:9/mcp) could not be reached"
    )
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def _cmdline(process: Path) -> str:
    try:
        return (process / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
