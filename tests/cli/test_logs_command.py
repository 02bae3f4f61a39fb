"""``llmgine logs`` and ``llmgine replay`` on the log of a real one-shot run.

A tool-chat one-shot talks (real OpenAI SDK) to the fake provider server,
which streams responses recorded from the real API; the log it writes is then
listed, shown, filtered, followed and replayed with the server stopped and no
key.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
from cli_test_utils import LLMGINE, run_llmgine

from fake_server import FakeProviderServer, sse_file_reply

WIRE = Path(__file__).resolve().parents[1] / "models" / "wire"

#: The recorded stream calls get_capital(country="UK"), then answers.
TOOLS = '''
from llmgine import tool


@tool
def get_capital(country: str) -> str:
    """The capital city of a country.

    Args:
        country: The country.
    """
    return {"uk": "London", "france": "Paris"}.get(country.lower(), "unknown")
'''


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding ``logs/`` of one recorded one-shot (the server stopped since)."""
    root = tmp_path_factory.mktemp("run")
    (root / "capitals.py").write_text(TOOLS)
    with FakeProviderServer() as server:
        server.add(
            sse_file_reply(WIRE / "openai_tool_call_stream.sse"),
            sse_file_reply(WIRE / "openai_text_stream.sse"),
        )
        proc = run_llmgine(
            [
                "chat",
                "--model",
                f"openai-compatible:gpt-4o-mini@{server.url}/v1",
                "--tools",
                "capitals.py",
                "--log-dir",
                "logs",
                "--prompt",
                "Capital of the UK?",
            ],
            root,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == "The capital of the UK is London."
        assert len(server.received) == 2
    return root


def log_file(root: Path) -> Path:
    (path,) = (root / "logs").glob("*.jsonl")
    return path


def test_the_run_has_one_log_named_by_time_and_run_id(recorded_run: Path) -> None:
    name = log_file(recorded_run).name
    stamp, _, rest = name.partition("-")
    assert len(stamp) == 16 and stamp.endswith("Z") and rest.endswith(".jsonl")
    assert oct(log_file(recorded_run).stat().st_mode & 0o777) == "0o600"


def test_logs_list_shows_the_run(recorded_run: Path) -> None:
    run_id = log_file(recorded_run).stem.partition("-")[2]
    proc = run_llmgine(["logs", "list"], recorded_run)
    assert proc.returncode == 0, proc.stderr
    assert run_id in proc.stdout and "ToolChatEngine" in proc.stdout
    (listed,) = json.loads(run_llmgine(["logs", "list", "--json"], recorded_run).stdout)
    assert listed["engine"] == "ToolChatEngine" and listed["turns"] == 1
    assert listed["tokens"] == 155 and listed["cost_usd"] is None  # a local model: no price


def test_logs_show_draws_the_turn_as_a_tree(recorded_run: Path) -> None:
    proc = run_llmgine(["logs", "show"], recorded_run)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("run ToolChatEngine · openai-compatible:gpt-4o-mini")
    assert "tools: get_capital" in lines[0]
    assert lines[1].startswith('▶ ToolChatEngineCommand "Capital of the UK?"  ✓')
    assert lines[2].startswith("├── model openai-compatible:gpt-4o-mini ·")
    assert lines[2].endswith("68 tokens → calls get_capital")
    assert lines[3].startswith('├── tool get_capital({"country": "UK"}) ·')
    assert lines[3].endswith('→ "London"')
    assert lines[4].startswith("└── model openai-compatible:gpt-4o-mini ·")
    assert lines[4].endswith('87 tokens → "The capital of the UK is London."')
    assert "2 model call(s), 1 tool call(s), 155 tokens" in lines[5]


def test_logs_show_filters_and_prints_raw_lines(recorded_run: Path) -> None:
    raw = run_llmgine(["logs", "show", "--json", "--type", "ToolExecuteResultEvent"], recorded_run)
    (result,) = [json.loads(line) for line in raw.stdout.splitlines()]
    assert result["tool_name"] == "get_capital" and result["result"] == "London"
    grep = run_llmgine(["logs", "show", "--json", "--grep", "London"], recorded_run)
    assert grep.stdout and all("London" in line for line in grep.stdout.splitlines())
    trace = result["trace_id"][:8]
    tree = run_llmgine(["logs", "show", "--trace", trace, "--type", "LLMCallEvent"], recorded_run)
    assert "tool get_capital" in tree.stdout  # a match shows its whole turn
    none = run_llmgine(["logs", "show", "--session", "nobody"], recorded_run)
    assert none.returncode == 0 and "no events match" in none.stdout
    missing = run_llmgine(["logs", "show", "deadbeef"], recorded_run)
    assert missing.returncode == 2 and "no run under logs matches 'deadbeef'" in missing.stderr


def test_logs_follow_draws_turns_as_they_end(recorded_run: Path, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    source = log_file(recorded_run)
    growing = logs / source.name
    lines = source.read_text().splitlines(keepends=True)
    half = next(n for n, line in enumerate(lines) if "ToolCallStartedEvent" in line)
    growing.write_text("".join(lines[:half]))
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    seen: list[str] = []
    with subprocess.Popen(
        [str(LLMGINE), "logs", "follow"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "COLUMNS": "200"},
    ) as proc:
        try:
            assert proc.stdout is not None
            header = proc.stdout.readline()  # the run header: a tree of its own, ended
            assert header.startswith("run ToolChatEngine")
            # The turn has not ended: nothing more until the rest is written.
            growing.write_text("".join(lines))
            for line in proc.stdout:
                seen.append(line)
                if "tool call(s)" in line:
                    break
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
    assert seen[0].startswith('▶ ToolChatEngineCommand "Capital of the UK?"  ✓')
    assert any(line.startswith("├── tool get_capital") for line in seen)
    assert proc.returncode == 0


def test_replay_matches_offline_then_fails_clearly_without_an_answer(
    recorded_run: Path, tmp_path: Path
) -> None:
    proc = run_llmgine(["replay"], recorded_run)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("replayed 1 command(s) of logs/")
    assert proc.stdout.rstrip().endswith("the events match")

    cut = tmp_path / "logs"
    cut.mkdir()
    source = log_file(recorded_run)
    kept = [
        line
        for line in source.read_text().splitlines()
        if not (
            json.loads(line)["event_type"] == "LLMResponseEvent"
            and json.loads(line)["content"] == "The capital of the UK is London."
        )
    ]
    (cut / source.name).write_text("\n".join(kept) + "\n")
    proc = run_llmgine(["replay"], tmp_path)
    assert proc.returncode == 1
    first, second = proc.stdout.splitlines()[:2]
    assert first.endswith("the events diverge")
    assert second.strip().startswith("a replayed command failed: openai-compatible:gpt-4o-mini:")
    assert "the recording was cut short or an answer was removed" in second
    assert "--- recorded" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr


def test_replay_of_nothing_says_so(tmp_path: Path) -> None:
    proc = run_llmgine(["replay"], tmp_path)
    assert proc.returncode == 2 and proc.stderr.strip() == "error: no logs under logs"
