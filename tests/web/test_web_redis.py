"""``llmgine web --redis``: the page's tabs answered by a real ``llmgine worker`` over Redis.

A real redis-server (tests/distributed's helper: skipped with one line when it
is not installed, failed under ``CI=true``) and one real worker process on the
offline demo model with tools/weather.py and two tools of these tests (one
asks for approval, one is slow). The web app is Starlette's TestClient around
the app ``llmgine web --redis`` builds; the last test runs the real server.
Every wait has a deadline; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import json
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_process import LLMGINE, ROOT, WebServer, clean_environment, run_llmgine
from starlette.testclient import TestClient
from web_helpers import BASE_URL, ORIGIN, TOKEN, WS_URL, receive, receive_until

from llmgine.bus.bus import MessageBus
from llmgine.cli.main import build_parser
from llmgine.cli.web_command import WebEngines
from llmgine.distributed import Keys, RedisTransport
from llmgine.distributed.codec import decode_result
from llmgine.engines.ui_events import UI_EVENTS
from llmgine.web import WebSettings, create_app

sys.path.insert(0, str(ROOT / "tests" / "distributed"))
from redis_server import RedisServer, free_port, require_redis_server  # noqa: E402

Message = dict[str, Any]
WEATHER = str(ROOT / "tools" / "weather.py")
TOOLS = '''\
"""Tools of the web-over-Redis tests, run by the worker: one asks first, one is slow."""

import asyncio
from pathlib import Path

from llmgine import tool

CANCELLED = Path(__file__).with_name("slow_report.cancelled")


@tool(requires_approval=True)
def delete_note(name: str) -> str:
    """Delete a note by its name.

    Args:
        name: The note's name.
    """
    return f"deleted the note {name}"


@tool
async def slow_report(topic: str) -> str:
    """Write a long report (it takes minutes).

    Args:
        topic: What the report is about.
    """
    try:
        await asyncio.sleep(600)
    except asyncio.CancelledError:
        written = CANCELLED.with_suffix(".tmp")
        written.write_text(topic)
        written.replace(CANCELLED)  # whole or not at all, for the test that polls it
        raise
    return f"report on {topic}"
'''


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    require_redis_server()
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Worker:
    """One ``llmgine worker --redis`` process, started and stopped with the module."""

    def __init__(self, url: str, home: Path) -> None:
        self.tools = home / "web_remote_tools.py"
        self.tools.write_text(TOOLS)
        self.cancelled = home / "slow_report.cancelled"
        env = clean_environment(HOME=str(home), LLMGINE_DATA_DIR=str(home / "data"))
        self.process = subprocess.Popen(
            [str(LLMGINE), "worker", "--redis", url, "--engine", "tool_chat", "--model", "demo"]
            + ["--tools", WEATHER, "--tools", str(self.tools), "--node", "web-w1"]
            + ["--claim-after", "1", "--log-dir", str(home / "logs")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if select.select([self.process.stdout], [], [], 0.5)[0]:
                line = self.process.stdout.readline()
                if line.startswith("worker web-w1:"):
                    return
                if not line:
                    break
        self.process.kill()
        raise AssertionError(f"the worker did not start: {self.process.communicate()[1]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            code = self.process.wait(30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            _, stderr = self.process.communicate()
        assert code == 0, stderr
        assert "Traceback" not in stderr


@pytest.fixture(scope="module")
def worker(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    running = Worker(redis_server.url, tmp_path_factory.mktemp("worker"))
    try:
        yield running
    finally:
        running.stop()


def client_for(url: str, tmp_path: Path) -> TestClient:
    """The app of ``llmgine web --redis URL``: its tabs' engines are the workers'."""
    engines = WebEngines(build_parser().parse_args(["web", "--redis", url]))
    settings = WebSettings(token=TOKEN, log_dir=tmp_path / "logs", title=engines.title)
    transport = RedisTransport(url, events=UI_EVENTS)
    return TestClient(create_app(engines.create, settings, transport=transport), base_url=BASE_URL)


def connect(client: TestClient) -> Any:
    if not client.cookies:
        assert client.get(f"/?token={TOKEN}").status_code == 200
    return client.websocket_connect(WS_URL, headers={"origin": ORIGIN})


def hello(ws: Any) -> Message:
    message = receive(ws)
    assert message["kind"] == "hello"
    return message


def ask(ws: Any, text: str, seen: list[Message]) -> Message:
    """Send a prompt; the turn's outcome (every message on the way goes to ``seen``)."""
    ws.send_json({"type": "prompt", "text": text})
    return receive_until(ws, lambda m: m["kind"] == "turn" and m["state"] != "started", seen)


def poll(check: Any, what: str, timeout: float = 30.0) -> None:
    """Call ``check`` until it is true (another process's doing); fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


def events(seen: list[Message], type_name: str) -> list[Message]:
    return [m["event"] for m in seen if m["kind"] == "event" and m["type"] == type_name]


def streamed(seen: list[Message]) -> str:
    return "".join(event["text"] for event in events(seen, "EngineTextDeltaEvent"))


# -- a tab on a worker ----------------------------------------------------------------------


def test_a_tab_gets_the_workers_tool_result_streamed_answer_and_trace(
    web_bus: MessageBus, redis_server: RedisServer, worker: Worker, tmp_path: Path
) -> None:
    with client_for(redis_server.url, tmp_path) as client, connect(client) as ws:
        state = hello(ws)["state"]
        assert state["engine"] == "ToolChatEngine" and state["remote"] == redis_server.url
        assert state["model"] is None  # the workers choose it; known once one answers
        assert state["supports"] == {
            "clear": False,
            "new": False,
            "model": False,
            "system": False,
            "cost": True,
        }
        assert "llmgine worker --model" in state["unsupported"]["model"]

        seen: list[Message] = []
        finished = ask(ws, "What's the weather in Perth?", seen)
        assert finished["state"] == "finished" and finished["success"], finished
        assert finished["result"].startswith("[offline demo] get_weather says: Perth: ")
        assert finished["metadata"]["model"] == "demo"
        (result,) = events(seen, "ToolExecuteResultEvent")
        assert result["tool_name"] == "get_weather" and result["result"].startswith("Perth: ")
        assert result["metadata"]["received_from"] == "web-w1"
        assert streamed(seen) == finished["result"]  # streamed by the worker, word by word
        assert len(events(seen, "EngineTextDeltaEvent")) > 1
        statuses = [e["status"] for e in events(seen, "EngineStatusEvent")]
        assert "running get_weather" in statuses
        # The trace view: the turn's tree, command -> model calls and the tool call.
        trace = [m for m in seen if m["kind"] == "trace" and m["trace_id"] == finished["turn_id"]]
        (root,) = trace[-1]["roots"]
        assert root["kind"] == "command" and root["status"] == "ok"
        kinds = [child["kind"] for child in root["children"]]
        assert kinds.count("model") == 2 and kinds.count("tool") == 1
        assert root["totals"]["tool_calls"] == 1 and root["totals"]["model_calls"] == 2
        # The worker's run header named its model and tools: the page's state has them.
        state = [m for m in seen if m["kind"] == "state"][-1]
        assert state["model"] == "demo" and "get_weather" in state["tools"]
        assert "slow_report" in state["tools"]

        # Cost works (from the worker's results); the controls that need the engine say why.
        ws.send_json({"type": "cost"})
        cost = receive_until(ws, lambda m: m["kind"] == "notice")
        assert cost["text"].startswith("Session: ") and " tokens (" in cost["text"]
        for request, says in (
            ({"type": "clear"}, "a worker keeps this conversation"),
            ({"type": "model", "model": "demo"}, "The workers choose the model"),
            ({"type": "system", "prompt": "Be brief."}, "The workers choose the system prompt"),
        ):
            ws.send_json(request)
            refused = receive_until(ws, lambda m: m["kind"] == "notice")
            assert refused["level"] == "warning" and says in refused["text"]


def test_two_tabs_are_two_conversations_on_the_worker(
    web_bus: MessageBus, redis_server: RedisServer, worker: Worker, tmp_path: Path
) -> None:
    with client_for(redis_server.url, tmp_path) as client:
        with connect(client) as one, connect(client) as two:
            first, second = hello(one)["session_id"], hello(two)["session_id"]
            assert first != second
            # Both at once: each tab gets its own turn's events only.
            one.send_json({"type": "prompt", "text": "What's the weather in Lisbon?"})
            two.send_json({"type": "prompt", "text": "What's the weather in Oslo?"})
            done = lambda m: m["kind"] == "turn" and m["state"] != "started"  # noqa: E731
            seen_one: list[Message] = []
            seen_two: list[Message] = []
            a = receive_until(one, done, seen_one)
            b = receive_until(two, done, seen_two)
            assert a["success"] and "Lisbon" in a["result"] and "Oslo" not in json.dumps(seen_one)
            assert b["success"] and "Oslo" in b["result"] and "Lisbon" not in json.dumps(seen_two)
            for seen, session in ((seen_one, first), (seen_two, second)):
                assert {m["event"]["session_id"] for m in seen if m["kind"] == "event"} == {session}
            # A second turn in the first tab: its worker-side conversation grew, not the other's.
            again = ask(one, "And the forecast for Lisbon?", seen_one)
            assert again["success"], again
            usage = again["metadata"]
            assert usage["session_usage"]["total_tokens"] > usage["usage"]["total_tokens"]
            other = b["metadata"]
            assert other["session_usage"]["total_tokens"] == other["usage"]["total_tokens"]


def test_an_approval_the_worker_asks_for_is_answered_in_the_tab(
    web_bus: MessageBus, redis_server: RedisServer, worker: Worker, tmp_path: Path
) -> None:
    with client_for(redis_server.url, tmp_path) as client, connect(client) as ws:
        session = hello(ws)["session_id"]
        for allow, result in ((True, "deleted the note groceries"), (False, "declined")):
            seen: list[Message] = []
            ws.send_json({"type": "prompt", "text": 'delete_note "groceries"'})
            asked = receive_until(ws, lambda m: m["kind"] == "approval", seen)
            assert asked["tool_name"] == "delete_note"
            assert asked["arguments"] == {"name": "groceries"}
            ws.send_json({"type": "approve", "id": asked["id"], "allow": allow})
            finished = receive_until(
                ws, lambda m: m["kind"] == "turn" and m["state"] != "started", seen
            )
            outcome = [m for m in seen if m["kind"] == "approval_done"]
            assert [m["outcome"] for m in outcome] == ["allowed" if allow else "denied"]
            (tool,) = events(seen, "ToolExecuteResultEvent")
            assert result in tool["result"] and finished["success"]
            assert tool["session_id"] == session


def test_stop_cancels_the_turn_on_the_worker(
    web_bus: MessageBus, redis_server: RedisServer, worker: Worker, tmp_path: Path
) -> None:
    import redis

    with client_for(redis_server.url, tmp_path) as client, connect(client) as ws:
        hello(ws)
        seen: list[Message] = []
        ws.send_json({"type": "prompt", "text": "slow_report on the quarter"})
        receive_until(
            ws,
            lambda m: (
                m["kind"] == "event"
                and m["type"] == "ToolCallStartedEvent"
                and m["event"]["tool_name"] == "slow_report"
            ),
            seen,
        )
        ws.send_json({"type": "stop"})
        stopped = receive_until(ws, lambda m: m["kind"] == "turn" and m["state"] != "started", seen)
        assert stopped["state"] == "cancelled"
        # The worker's tool was cancelled (not left running), and its result says why.
        poll(worker.cancelled.exists, "the worker's tool to be cancelled")
        assert worker.cancelled.read_text() == "slow_report on the quarter"
        record = redis.Redis.from_url(redis_server.url, decode_responses=True)
        try:
            stored = decode_result(record.get(Keys("llmgine").result(stopped["turn_id"])))
        finally:
            record.close()
        assert stored.error == "ToolChatEngineCommand was cancelled by its caller"
        # The tab goes on: the next turn is answered (the worker rolled the turn back).
        after = ask(ws, "What's the weather in Perth?", seen)
        assert after["success"] and "Perth" in after["result"]


def test_stop_while_the_worker_waits_for_an_approval_withdraws_the_question(
    web_bus: MessageBus, redis_server: RedisServer, worker: Worker, tmp_path: Path
) -> None:
    """Stop cancels the worker's turn, which cancels its approval command, back in this tab."""
    with client_for(redis_server.url, tmp_path) as client, connect(client) as ws:
        hello(ws)
        seen: list[Message] = []
        ws.send_json({"type": "prompt", "text": 'delete_note "groceries"'})
        asked = receive_until(ws, lambda m: m["kind"] == "approval", seen)
        ws.send_json({"type": "stop"})
        stopped = receive_until(ws, lambda m: m["kind"] == "turn" and m["state"] != "started", seen)
        assert stopped["state"] == "cancelled"
        done = receive_until(ws, lambda m: m["kind"] == "approval_done", seen)
        assert done == {**done, "id": asked["id"], "outcome": "cancelled"}
        assert events(seen, "ToolExecuteResultEvent") == []  # the tool never ran
        ws.send_json({"type": "approve", "id": asked["id"], "allow": True})
        late = receive_until(ws, lambda m: m["kind"] == "notice")
        assert late["text"] == "That approval is no longer pending."


# -- the command line ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--model", "demo"], "--model: with --redis the workers choose"),
        (["--tools", WEATHER], "--tools: with --redis the workers choose"),
        (["--system", "Be brief."], "--system: with --redis the workers choose"),
        (["--mcp", "python server.py"], "--mcp: with --redis the workers choose"),
        (["--engine", "consortium"], "--engine consortium runs in this process only"),
    ],
)
def test_the_workers_options_are_usage_errors_with_redis(
    tmp_path: Path, args: list[str], says: str
) -> None:
    proc = run_llmgine(["web", "--port", "0", "--redis", "redis://127.0.0.1:1/0", *args], tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("error: ") and says in proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stdout == ""


def test_an_unreachable_redis_is_one_line_and_exit_2(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    proc = run_llmgine(["web", "--port", "0", "--redis", url], tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith(f"error: cannot reach Redis at {url}: ")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert proc.stdout == ""  # no URL printed: the server never started


async def test_the_real_server_sends_a_tabs_turn_to_the_worker(
    redis_server: RedisServer, worker: Worker, tmp_path: Path
) -> None:
    import httpx2 as httpx
    from websockets.asyncio.client import connect as ws_connect

    args = ["--redis", redis_server.url, "--log-dir", str(tmp_path / "logs")]
    with WebServer(args, tmp_path) as server:
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
            opened = await http.get(f"/?token={server.token}", follow_redirects=True)
            assert opened.status_code == 200 and "workers on redis://" in opened.text
            cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
        ws_url = server.base.replace("http", "ws") + "/ws"
        async with asyncio.timeout(60):
            async with ws_connect(
                ws_url,
                origin=server.base,  # type: ignore[arg-type]
                additional_headers={"cookie": cookie},
            ) as ws:
                greeting = json.loads(await ws.recv())
                assert greeting["state"]["remote"] == redis_server.url
                await ws.send(json.dumps({"type": "prompt", "text": "Weather in Perth?"}))
                while True:
                    message = json.loads(await ws.recv())
                    if message["kind"] == "turn" and message["state"] != "started":
                        break
        assert message["success"] and "get_weather says: Perth: " in message["result"]
        assert server.stop() == 130
        assert "Traceback" not in "".join(server.stderr)
    # The server's log has the worker's events of its tab.
    (log,) = (tmp_path / "logs").glob("*.jsonl")
    assert '"received_from":"web-w1"' in log.read_text()
