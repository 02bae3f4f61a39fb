"""A real MCP server over streamable HTTP on 127.0.0.1 (a subprocess): headers, changes, a crash."""

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmgine.testing import FakeMessageBus
from llmgine.tools import MCPServer, MCPServerStatusEvent, ToolCall, ToolManager

DEMO = Path(__file__).with_name("mcp_demo_server.py")
TOKEN = "Bearer tok-0123456789abcdef"


class HTTPServer:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(DEMO), "--http"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # printed once it listens
        assert line.startswith("PORT "), f"the demo server did not start: {line!r}"
        self.url = f"http://127.0.0.1:{int(line.split()[1])}/mcp"

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=30)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.fixture(scope="module")
def http_server() -> Iterator[HTTPServer]:
    server = HTTPServer()
    yield server
    server.stop()


def call(name: str, arguments: str = "{}") -> ToolCall:
    return ToolCall(id=f"call-{name}", name=name, arguments=arguments)


async def test_calls_carry_the_headers_and_secrets_stay_masked(http_server: HTTPServer) -> None:
    server = MCPServer.http(
        http_server.url, headers={"X-Team": "tools", "Authorization": TOKEN}, prefix="web"
    )
    manager = ToolManager()
    await manager.add_mcp_server(server)
    try:
        added = await manager.execute_tool_call(call("web_add", '{"a": 1, "b": 1}'))
        team = await manager.execute_tool_call(call("web_header", '{"name": "X-Team"}'))
        auth = await manager.execute_tool_call(call("web_header", '{"name": "Authorization"}'))
    finally:
        await manager.close()
    assert added.value == {"total": 2}
    assert team.content == "tools"
    assert auth.content == "***"  # it arrived; the model never reads it
    assert server.transport == "http" and server.target == http_server.url


async def test_a_tool_list_change_arrives_over_http(http_server: HTTPServer) -> None:
    events = FakeMessageBus()
    changed = asyncio.Event()

    def on_status(event: MCPServerStatusEvent) -> None:
        if event.status == "tools_changed":
            changed.set()

    events.register_event_handler(MCPServerStatusEvent, on_status, "s1")
    manager = ToolManager("e1", "s1", events=events)
    await manager.add_mcp_server(MCPServer.http(http_server.url, prefix="web"))
    try:
        assert "web_extra" not in manager.tools
        await manager.execute_tool_call(call("web_toggle_tools"))
        await asyncio.wait_for(changed.wait(), 30)
        assert "web_extra" in manager.tools
        extra = await manager.execute_tool_call(call("web_extra"))
        assert extra.content == "extra"
    finally:
        await manager.close()


async def test_a_server_that_went_away_gives_errors_the_model_can_read() -> None:
    remote = HTTPServer()
    events = FakeMessageBus()
    manager = ToolManager("e1", "s1", events=events)
    await manager.add_mcp_server(MCPServer.http(remote.url, name="remote"))
    try:
        assert (await manager.execute_tool_call(call("echo", '{"text": "up"}'))).content == "up"
        remote.stop()
        lost = await manager.execute_tool_call(call("echo", '{"text": "down?"}'))
        again = await manager.execute_tool_call(call("echo", '{"text": "still down?"}'))
    finally:
        await manager.close()
    assert lost.is_error and "stopped during the call to echo" in lost.content
    assert again.is_error and "could not be reached" in again.content
    assert remote.url in again.content and "echo was not run" in again.content
    statuses = [e.status for e in events.events_of_type(MCPServerStatusEvent)]
    assert statuses[:3] == ["connected", "disconnected", "failed"]


async def test_a_url_that_never_answers_fails_at_its_connect_timeout() -> None:
    """A port that accepts and never speaks: the error comes at the timeout, not 10 s later."""
    from llmgine.errors import MCPServerError

    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # held open, never answered

    listener = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    manager = ToolManager()
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        with pytest.raises(MCPServerError, match="did not finish starting within 1 s") as caught:
            await manager.add_mcp_server(
                MCPServer.http(f"http://127.0.0.1:{port}/mcp", connect_timeout=1.0)
            )
        took = loop.time() - started
    finally:
        await manager.close()
        for writer in accepted:
            writer.close()
        listener.close()
    assert "check the URL" in str(caught.value)
    assert took < 8  # generous on a busy machine; it was the timeout plus a 10 s grace


@pytest.mark.parametrize(("status", "says"), [(401, "check its headers"), (404, "URL's path")])
async def test_an_http_error_says_its_status_and_what_to_check(status: int, says: str) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from llmgine.errors import MCPServerError

    class Refusing(BaseHTTPRequestHandler):
        def _refuse(self) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = do_DELETE = _refuse

        def log_message(self, format: str, *args: object) -> None:  # quiet
            return None

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    manager = ToolManager()
    try:
        with pytest.raises(MCPServerError) as caught:
            await manager.add_mcp_server(
                MCPServer.http(f"http://127.0.0.1:{httpd.server_port}/mcp", connect_timeout=20)
            )
    finally:
        await manager.close()
        httpd.shutdown()
        httpd.server_close()
    assert f"HTTP {status}" in str(caught.value) and says in str(caught.value)
