"""``llmgine worker --redis`` and ``llmgine chat --redis``: real processes, offline demo model."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llmgine.messages.events import Event

ROOT = Path(__file__).resolve().parents[2]
LLMGINE = str(Path(sys.executable).parent / "llmgine")


def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    clean["HOME"] = str(tmp_path)
    clean["LLMGINE_DATA_DIR"] = str(tmp_path / "data")
    return clean


def start_worker(
    url: str, node: str, tmp_path: Path, engine: str = "tool_chat"
) -> subprocess.Popen[str]:
    tools = ["--tools", "tools/weather.py"] if engine == "tool_chat" else []
    proc = subprocess.Popen(
        [LLMGINE, "worker", "--redis", url, "--engine", engine, "--model", "demo"]
        + [*tools, "--node", node, "--claim-after", "1"]
        + ["--log-dir", str(tmp_path / f"logs-{node}")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env(tmp_path),
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if select.select([proc.stdout], [], [], 0.5)[0]:
            line = proc.stdout.readline()
            if line.startswith(f"worker {node}:"):
                engine_class = "ToolChatEngine" if engine == "tool_chat" else "SinglePassEngine"
                assert f"{engine_class} on demo" in line
                return proc
            if not line:
                break
    proc.kill()
    raise AssertionError(f"worker did not start: {proc.communicate()[1]}")


def test_chat_sends_its_prompt_to_a_worker_and_streams_the_answer(redis_server, tmp_path) -> None:
    workers = [start_worker(redis_server.url, node, tmp_path) for node in ("cli-w1", "cli-w2")]
    try:
        answer = subprocess.run(
            [LLMGINE, "chat", "--redis", redis_server.url, "--log-dir", str(tmp_path / "logs")]
            + ["--prompt", "What's the weather in Perth?"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
            env=env(tmp_path),
        )
        assert answer.returncode == 0, answer.stderr
        assert answer.stdout.startswith("[offline demo]")
        assert "Perth" in answer.stdout
        assert "Traceback" not in answer.stderr
        # The worker's events (its tool result among them) reached the client's log.
        client_log = next((tmp_path / "logs").glob("*.jsonl")).read_text()
        assert "ToolExecuteResultEvent" in client_log and "get_weather" in client_log
    finally:
        for proc in workers:
            proc.terminate()
        for proc in workers:
            assert proc.wait(30) == 0
            proc.communicate()


def test_chat_without_a_worker_says_so(redis_server, tmp_path) -> None:
    answer = subprocess.run(
        [LLMGINE, "chat", "--redis", redis_server.url, "--log-dir", str(tmp_path / "logs")]
        + ["--prompt", "anyone?"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env(tmp_path),
    )
    assert answer.returncode == 1
    assert "error: no node serves ToolChatEngineCommand" in answer.stderr
    assert "Traceback" not in answer.stderr


def chat_without_redis(tmp_path, *options: str) -> subprocess.CompletedProcess[str]:
    """``chat --redis`` at a port where no Redis is, with ``options``: refused before it looks."""
    return run_cli(
        ["chat", "--redis", "redis://127.0.0.1:1/0", *options, "--prompt", "x"], tmp_path
    )


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--model", "demo"], "--model"),
        (["--tools", "tools/weather.py", "--system", "hi"], "--system, --tools"),
        (["--mcp", "python server.py"], "--mcp"),
        (["--no-stream", "--timeout", "5"], "--no-stream, --timeout"),
    ],
)
def test_chat_with_redis_refuses_the_workers_options(tmp_path, options, named) -> None:
    answer = chat_without_redis(tmp_path, *options)
    assert answer.returncode == 2
    assert answer.stderr.startswith(f"error: {named}: with --redis the workers choose")
    assert "pass them to `llmgine worker`" in answer.stderr
    assert answer.stderr.count("\n") == 1


@pytest.mark.parametrize("options", [["--continue"], ["--conversation", "abc"], ["--db", "x.db"]])
def test_chat_with_redis_refuses_stored_conversations(tmp_path, options) -> None:
    answer = chat_without_redis(tmp_path, *options)
    assert answer.returncode == 2
    assert answer.stderr == (
        f"error: {options[0]}: with --redis a worker keeps each session's conversation in "
        "its memory; stored conversations are for an engine in this process\n"
    )


async def test_a_worker_shares_what_a_front_end_shows(bus, redis_server, tmp_path) -> None:
    """The run header, the turn's command, its model and tool calls reach the client's session."""
    from llmgine.cli.distributed import WORKER_EVENTS
    from llmgine.distributed import RedisTransport
    from llmgine.engines.messages import RunStartedEvent
    from llmgine.engines.tool_chat_engine import ToolChatEngineCommand

    worker = start_worker(redis_server.url, "ui-w1", tmp_path)
    try:
        seen: list[Event] = []
        for kind in WORKER_EVENTS:
            bus.register_event_handler(kind, seen.append, session_id="tab-1")
        await bus.attach(RedisTransport(redis_server.url, events=WORKER_EVENTS))
        command = ToolChatEngineCommand("What's the weather in Perth?", session_id="tab-1")
        result = await bus.execute(command)
        assert result.success, result.error
        # Before the result: the run's header (a tree of its own), and the turn's tree.
        runs = [event for event in seen if isinstance(event, RunStartedEvent)]
        assert len(runs) == 1 and runs[0].trace_id != command.command_id
        assert runs[0].models == ["demo"]
        assert [tool["name"] for tool in runs[0].tools] == ["get_weather", "get_forecast"]
        turn = [event for event in seen if event.trace_id == command.command_id]
        kinds = [type(event).__name__ for event in turn]
        assert kinds[0] == "CommandStartedEvent" and kinds[-1] == "CommandResultEvent"
        assert len(turn) + 1 == len(seen)
        assert kinds.count("LLMCallEvent") == kinds.count("LLMResponseEvent") == 2
        assert kinds.count("ToolCallStartedEvent") == kinds.count("ToolExecuteResultEvent") == 1
        assert "EngineTextDeltaEvent" in kinds and "ToolChatEngineStatusEvent" in kinds
        assert all(event.metadata.get("received_from") == "ui-w1" for event in seen)
    finally:
        await bus.detach()
        worker.terminate()
        assert worker.wait(30) == 0
        worker.communicate()


def run_cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LLMGINE, *args, "--log-dir", str(tmp_path / "logs")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env(tmp_path),
    )


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ["worker", "--engine", "single_pass", "--tools", "tools/weather.py", "--model", "demo"],
            "error: --tools: only --engine tool_chat offers tools (not single_pass)",
        ),
        (["worker", "--claim-after", "nan", "--model", "demo"], "claim_after must be a finite"),
        (["worker", "--claim-after", "inf", "--model", "demo"], "claim_after must be a finite"),
        (["chat", "--prompt", "hi", "--database", "99"], "has no such database"),
    ],
)
def test_expected_failures_are_one_line_and_exit_2(redis_server, tmp_path, args, said) -> None:
    if "--database" in args:  # the URL's database number, past the server's 16
        args = [a for a in args if a not in ("--database", "99")]
        url = f"redis://127.0.0.1:{redis_server.port}/99"
    else:
        url = redis_server.url
    answer = run_cli([*args, "--redis", url], tmp_path)
    assert answer.returncode == 2, answer.stderr
    assert "Traceback" not in answer.stderr
    lines = answer.stderr.strip().splitlines()
    assert len(lines) == 1 and said in lines[0], answer.stderr


def test_chat_with_a_password_in_its_url_never_prints_it(tmp_path) -> None:
    from redis_server import free_port

    url = f"redis://:s3cretpw@127.0.0.1:{free_port()}/0?password=s3cretpw"
    answer = run_cli(["chat", "--redis", url, "--prompt", "hi"], tmp_path)
    assert answer.returncode == 2
    assert "cannot reach Redis at redis://:***@127.0.0.1:" in answer.stderr
    assert "s3cretpw" not in answer.stderr + answer.stdout


def test_ask_sends_its_prompt_to_a_single_pass_worker_and_chat_says_which_to_start(
    redis_server, tmp_path
) -> None:
    worker = start_worker(redis_server.url, "cli-sp", tmp_path, engine="single_pass")
    try:
        answer = run_cli(["ask", "--redis", redis_server.url, "--prompt", "hello"], tmp_path)
        assert answer.returncode == 0, answer.stderr
        assert answer.stdout.startswith("[offline demo]")
        assert "Traceback" not in answer.stderr
        # No tool-chat worker: chat --redis says which worker would answer it.
        chat = run_cli(["chat", "--redis", redis_server.url, "--prompt", "hi"], tmp_path)
        assert chat.returncode == 1
        assert "no node serves ToolChatEngineCommand" in chat.stderr
        assert "start one: llmgine worker --redis URL --engine tool_chat" in chat.stderr
    finally:
        worker.terminate()
        assert worker.wait(30) == 0
        worker.communicate()
