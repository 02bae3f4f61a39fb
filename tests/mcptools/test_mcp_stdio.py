"""A real MCP server started as a subprocess over stdio: calls, errors, timeouts, crashes, shutdown.

Starting the SDK's server takes seconds here (its import), so the tests that
leave it running share one process (module scope, one event loop); the crash
test restarts it, and the shutdown test starts its own.
"""

import asyncio
import logging
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from llmgine.errors import MCPServerError
from llmgine.testing import FakeMessageBus
from llmgine.tools import MCPServer, MCPServerStatusEvent, ToolCall, ToolManager

DEMO = Path(__file__).with_name("mcp_demo_server.py")
SECRET = "demo-secret-value-1234"
KEY = "wk-9f8e7d6c5b4a3210"  # a secret whose variable's name does not say so
module_loop = pytest.mark.asyncio(loop_scope="module")


def call(name: str, arguments: str = "{}") -> ToolCall:
    return ToolCall(id=f"call-{name}", name=name, arguments=arguments)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Shared:
    def __init__(self) -> None:
        self.events = FakeMessageBus()
        self.manager = ToolManager("e1", "s1", events=self.events)
        self.server = MCPServer.stdio(
            sys.executable,
            [str(DEMO)],
            env={"DEMO_API_TOKEN": SECRET, "PLAIN": "visible", "WEATHER_KEY": KEY},
            timeout=2,
            connect_timeout=60,
            name="demo",
        )

    def statuses(self) -> list[str]:
        return [e.status for e in self.events.events_of_type(MCPServerStatusEvent)]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared() -> AsyncIterator[Shared]:
    state = Shared()
    await state.manager.add_mcp_server(state.server)
    yield state
    await state.manager.close()


@module_loop
async def test_a_call_and_the_environment_it_was_given(shared: Shared) -> None:
    added = await shared.manager.execute_tool_call(call("add", '{"a": 20, "b": 22}'))
    assert not added.is_error and added.value == {"total": 42}
    plain = await shared.manager.execute_tool_call(call("env", '{"name": "PLAIN"}'))
    secret = await shared.manager.execute_tool_call(call("env", '{"name": "DEMO_API_TOKEN"}'))
    unset = await shared.manager.execute_tool_call(call("env", '{"name": "HOME_OF_NOTHING"}'))
    assert plain.content == "visible"
    assert secret.content == "***" and SECRET not in secret.content  # never to the model
    assert unset.content == "<unset>"
    key = await shared.manager.execute_tool_call(call("env", '{"name": "WEATHER_KEY"}'))
    assert key.content == "***"  # every value the server was given is masked
    assert shared.statuses()[0] == "connected" and shared.server.name == "demo"


class Waiter(logging.Handler):
    """Sets ``seen`` when a record containing ``text`` is logged (from any thread)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


@module_loop
async def test_an_error_result_and_the_servers_stderr_in_the_log(
    shared: Shared, capfd: pytest.CaptureFixture[str]
) -> None:
    log = logging.getLogger("llmgine.mcp.demo")
    waiter = Waiter("kaboom")
    log.addHandler(waiter)
    log.setLevel(logging.INFO)
    try:
        failed = await shared.manager.execute_tool_call(call("boom"))
        assert failed.is_error and failed.content == "Error executing tool boom"
        # The server's traceback goes to its logger (read by a thread), not the terminal.
        assert await asyncio.to_thread(waiter.seen.wait, 30)
    finally:
        log.removeHandler(waiter)
        log.setLevel(logging.NOTSET)
    assert "kaboom" not in capfd.readouterr().err


@module_loop
async def test_one_turns_calls_run_at_once_over_one_connection(shared: Shared) -> None:
    calls = [ToolCall(id=f"c{n}", name="echo", arguments=f'{{"text": "n{n}"}}') for n in range(6)]
    results = await shared.manager.execute_tool_calls(calls)
    assert [r.content for r in results] == [f"n{n}" for n in range(6)]
    assert [r.tool_call_id for r in results] == [f"c{n}" for n in range(6)]


@module_loop
async def test_a_hung_call_times_out_and_the_server_keeps_answering(shared: Shared) -> None:
    slow = await shared.manager.execute_tool_call(call("slow", '{"seconds": 60}'))
    assert slow.content == "Error: the MCP server demo did not answer slow within 2 s."
    assert slow.duration_s < 30
    echo = await shared.manager.execute_tool_call(call("echo", '{"text": "awake"}'))
    assert echo.content == "awake"


@module_loop
async def test_a_server_that_crashes_during_a_call_is_restarted_on_the_next(
    shared: Shared,
) -> None:
    first = (await shared.manager.execute_tool_call(call("pid"))).value["result"]
    log = logging.getLogger("llmgine.mcp.demo")
    started = Waiter("slow started")
    log.addHandler(started)
    log.setLevel(logging.INFO)
    try:
        running = asyncio.create_task(
            shared.manager.execute_tool_call(call("slow", '{"seconds": 60}'))
        )
        assert await asyncio.to_thread(started.seen.wait, 30)  # the call reached the server
    finally:
        log.removeHandler(started)
        log.setLevel(logging.NOTSET)
    os.kill(first, signal.SIGKILL)
    failed = await running
    assert failed.is_error
    assert "stopped during the call to slow" in failed.content
    assert "restarted for the next call" in failed.content
    again = await shared.manager.execute_tool_call(call("pid"))
    assert not again.is_error and again.value["result"] != first
    assert not alive(first)
    statuses = shared.statuses()
    assert statuses[-2:] == ["disconnected", "restarted"]
    restarted = shared.events.events_of_type(MCPServerStatusEvent)[-1]
    assert restarted.server == "demo" and "add" in restarted.tools
    assert SECRET not in restarted.detail


@module_loop
async def test_a_server_that_crashed_while_idle_is_restarted_for_the_next_call(
    shared: Shared,
) -> None:
    first = (await shared.manager.execute_tool_call(call("pid"))).value["result"]
    os.kill(first, signal.SIGKILL)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while shared.server.connected:  # its stderr closes once the process is gone
        assert loop.time() < deadline, "the crash was never noticed"
        await asyncio.sleep(0.02)
    again = await shared.manager.execute_tool_call(call("pid"))
    assert not again.is_error and again.value["result"] != first  # no failed call first
    assert shared.statuses()[-2:] == ["disconnected", "restarted"]
    down = shared.events.events_of_type(MCPServerStatusEvent)[-2]
    assert "its process exited" in down.detail


async def test_shutdown_from_another_task_leaves_no_process_and_no_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    manager = ToolManager()
    server = MCPServer.stdio(sys.executable, [str(DEMO)], connect_timeout=60, name="demo2")
    await asyncio.create_task(manager.add_mcp_server(server))  # entered in one task...
    pid = (await manager.execute_tool_call(call("pid"))).value["result"]
    assert alive(pid)
    await asyncio.create_task(manager.close())  # ...closed in another
    assert not server.connected and not alive(pid)
    messages = " ".join(record.getMessage() for record in caplog.records)
    assert "cancel scope" not in messages and "Traceback" not in messages


async def test_a_server_that_cannot_start_says_why() -> None:
    missing = MCPServer.stdio("no-such-mcp-server-command", ["--flag"])
    with pytest.raises(MCPServerError, match="no-such-mcp-server-command was not found"):
        await ToolManager().add_mcp_server(missing)
    crashing = MCPServer.stdio(
        sys.executable, ["-c", "import sys; print('cannot import weather', file=sys.stderr)"]
    )
    with pytest.raises(MCPServerError) as caught:
        await ToolManager().add_mcp_server(crashing)
    text = str(caught.value)
    assert "could not be started" in text and "it printed:\n  cannot import weather" in text
    assert not crashing.connected


@module_loop
async def test_what_the_server_writes_to_stderr_is_logged_with_its_secrets_masked(
    shared: Shared,
) -> None:
    log = logging.getLogger("llmgine.mcp.demo")
    lines: list[str] = []
    waiter = Waiter("WEATHER_KEY is")
    collect = logging.Handler()
    collect.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    for handler in (waiter, collect):
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        said = await shared.manager.execute_tool_call(call("say_env", '{"name": "WEATHER_KEY"}'))
        assert said.content == "said"
        assert await asyncio.to_thread(waiter.seen.wait, 30)
    finally:
        for handler in (waiter, collect):
            log.removeHandler(handler)
        log.setLevel(logging.NOTSET)
    said_lines = [line for line in lines if "WEATHER_KEY is" in line]
    assert said_lines == ["WEATHER_KEY is ***"]


def test_a_url_s_query_values_and_password_are_masked_wherever_shown() -> None:
    server = MCPServer.http("http://user:pa55word-xyz@127.0.0.1:1/mcp?api_key=SECRETQUERY123456")
    assert server.target == "http://127.0.0.1:1/mcp?api_key=***"
    assert "SECRETQUERY123456" not in repr(server)
    assert server.mask("failed: http://127.0.0.1:1/mcp?api_key=SECRETQUERY123456") == (
        "failed: http://127.0.0.1:1/mcp?api_key=***"
    )
    assert "pa55word-xyz" not in server.mask("auth pa55word-xyz refused")


async def test_a_server_that_prints_to_stdout_works_and_puts_no_traceback_on_the_terminal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="llmgine.mcp.sdk")  # a CLI test may have raised it
    terminal: list[logging.LogRecord] = []  # what reaches the root logger's handlers
    root_handler = logging.Handler()
    root_handler.emit = terminal.append  # type: ignore[method-assign]
    logging.getLogger().addHandler(root_handler)
    banner = (
        "print('Welcome to my server!', flush=True); import runpy; "
        f"runpy.run_path({str(DEMO)!r}, run_name='__main__')"
    )
    server = MCPServer.stdio(sys.executable, ["-c", banner], connect_timeout=60, name="banner")
    manager = ToolManager()
    try:
        await manager.add_mcp_server(server)
        added = await manager.execute_tool_call(call("add", '{"a": 1, "b": 2}'))
    finally:
        await manager.close()
        logging.getLogger().removeHandler(root_handler)
    assert not added.is_error and added.value == {"total": 3}
    assert [r for r in terminal if r.name.startswith("mcp") or r.exc_info] == []
    said = [r.getMessage() for r in terminal if r.name == "llmgine.mcp.sdk"]
    assert said and "\n" not in said[0]  # one line, at INFO, in LLMgine's MCP log
