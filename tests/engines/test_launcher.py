"""``python -m llmgine.engines.<engine>`` as a user runs it (offline)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(
    args: list[str], tmp_path: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    return subprocess.run(
        [sys.executable, "-m", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )


def test_one_shot_prompt_without_a_key_uses_the_offline_model(tmp_path: Path) -> None:
    proc = run(
        [
            "llmgine.engines.tool_chat_engine",
            "--prompt",
            "Weather in Perth?",
            "--tools",
            str(ROOT / "tools" / "weather.py"),
            "--log-dir",
            "my-logs",
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Tool results: get_weather")
    assert "offline TestModel" in proc.stderr and "OPENAI_API_KEY" in proc.stderr
    assert "Traceback" not in proc.stderr
    (log,) = (tmp_path / "my-logs").glob("events_*.jsonl")
    types = {json.loads(line)["event_type"] for line in log.read_text().splitlines()}
    assert {"LLMCallEvent", "ToolExecuteResultEvent", "ToolChatEngineStatusEvent"} <= types


def test_piped_stdin_and_no_stream(tmp_path: Path) -> None:
    proc = run(
        ["llmgine.engines.single_pass_engine", "--model", "test", "--no-stream"],
        tmp_path,
        stdin="hello\n",
    )
    assert proc.returncode == 0, proc.stderr
    assert "offline TestModel" in proc.stdout
    assert proc.stderr == ""


def test_bad_model_and_missing_key_are_one_line(tmp_path: Path) -> None:
    bad = run(
        ["llmgine.engines.single_pass_engine", "--model", "nope:x", "--prompt", "hi"], tmp_path
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "known providers" in bad.stderr
    keyless = run(
        ["llmgine.engines.tool_chat_engine", "--model", "openai:gpt-4.1-mini", "--prompt", "hi"],
        tmp_path,
    )
    assert keyless.returncode == 1
    assert "OPENAI_API_KEY" in keyless.stderr and "Traceback" not in keyless.stderr


def test_help_lists_the_options(tmp_path: Path) -> None:
    proc = run(["llmgine.engines.tool_chat_engine", "--help"], tmp_path)
    assert proc.returncode == 0
    for option in ("--model", "--system", "--tools", "--prompt", "--no-stream", "--log-dir"):
        assert option in proc.stdout
    assert "RuntimeWarning" not in proc.stderr
