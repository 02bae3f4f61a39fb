"""``python -m llmgine.engines.<engine>`` as a user runs it (offline)."""

import json
import os
import re
import socket
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
    # The demo model reads the city from the prompt and labels its answer.
    assert proc.stdout.startswith("[offline demo] get_weather says: Perth: ")
    assert "offline demo model" in proc.stderr and "OPENAI_API_KEY" in proc.stderr
    assert "Traceback" not in proc.stderr
    (log,) = (tmp_path / "my-logs").glob("*.jsonl")
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
    options = ("--model", "--system", "--tools", "--prompt", "--no-stream", "--log-dir")
    for option in (*options, "--timeout", "--version"):
        assert option in proc.stdout
    assert "RuntimeWarning" not in proc.stderr


def test_empty_prompts_are_a_usage_error(tmp_path: Path) -> None:
    for args, stdin in (
        (["--prompt", ""], None),
        (["--prompt", "  \n "], None),
        ([], "   \n\t\n"),
        ([], ""),
    ):
        proc = run(
            ["llmgine.engines.single_pass_engine", "--model", "test", *args], tmp_path, stdin
        )
        assert proc.returncode == 2, (args, stdin)
        assert proc.stderr == "error: no prompt given\n"
        assert proc.stdout == ""


def test_no_terminal_never_draws_the_interactive_ui(tmp_path: Path) -> None:
    # stdin is a pipe with nothing in it and stdout a file: a usage error, no escape codes.
    proc = run(["llmgine.engines.tool_chat_engine", "--model", "test"], tmp_path, stdin="")
    assert proc.returncode == 2
    assert "\x1b" not in proc.stdout + proc.stderr
    assert proc.stderr.startswith("error: no prompt given")


def test_an_unwritable_log_dir_is_one_line_naming_it(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    proc = run(
        ["llmgine.engines.single_pass_engine", "--model", "test", "--prompt", "hi"]
        + ["--log-dir", "a-file/logs"],
        tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("error: cannot write the event log in 'a-file/logs'")
    assert "--log-dir" in proc.stderr and "Traceback" not in proc.stderr


def test_a_tools_folder_loads_every_file_with_tools(tmp_path: Path) -> None:
    proc = run(
        ["llmgine.engines.tool_chat_engine", "--prompt", "What is the weather in Oslo?"]
        + ["--tools", str(ROOT / "tools")],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("[offline demo] get_weather says: Oslo: ")


def test_a_broken_tool_file_is_named_as_the_user_wrote_it(tmp_path: Path) -> None:
    (tmp_path / "nodoc.py").write_text(
        "from llmgine import tool\n\n@tool\ndef add(a: int, b: int) -> int:\n    return a + b\n"
    )
    proc = run(
        ["llmgine.engines.tool_chat_engine", "--model", "test", "--prompt", "hi"]
        + ["--tools", "nodoc.py"],
        tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: nodoc.py: add has no description")
    assert "llmgine_tools_" not in proc.stderr


def test_an_unreachable_local_server_says_how_long_and_what_to_check(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    proc = run(
        ["llmgine.engines.single_pass_engine", "--model", f"openai-compatible:m@{url}"]
        + ["--prompt", "hi", "--timeout", "5"],
        tmp_path,
    )
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()
    assert line.startswith("error: openai-compatible:m: could not reach")
    assert re.search(r"gave up after 4 attempts in \d+\.\d s", line)
    assert f"is the server at {url}" in line and "running?" in line


def test_version(tmp_path: Path) -> None:
    proc = run(["llmgine.engines.tool_chat_engine", "--version"], tmp_path)
    assert proc.returncode == 0
    assert re.fullmatch(r"llmgine \d+\.\d+\.\d+\S*\n", proc.stdout)


def test_the_provider_sdk_is_imported_in_the_background(tmp_path: Path) -> None:
    code = """
import sys
from llmgine import get_model
from llmgine.cli.launcher import import_in_background
assert "openai" not in sys.modules
thread = import_in_background(get_model("openai:gpt-4.1-mini"))
thread.join(60)
print("openai" in sys.modules, import_in_background(get_model("openai:gpt-4.1-mini")))
print(import_in_background(get_model("demo")))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "None", "None"]
