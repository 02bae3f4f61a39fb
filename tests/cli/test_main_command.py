"""The installed ``llmgine`` command: chat, ask, consortium, models, --help, --version."""

import json
import re
import sys
from pathlib import Path

import pytest
from cli_test_utils import LLMGINE
from cli_test_utils import run_llmgine as run

ROOT = Path(__file__).resolve().parents[2]
VERSION = re.compile(r"llmgine \d+\.\d+\.\d+\S*\n")


def options(help_text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", help_text))


def test_the_command_is_installed_with_the_project() -> None:
    assert LLMGINE.is_file(), "pip install -e . installs the llmgine console script"


def test_help_lists_the_subcommands(tmp_path: Path) -> None:
    proc = run(["--help"], tmp_path)
    assert proc.returncode == 0
    for name in ("chat", "ask", "consortium", "models"):
        assert re.search(rf"^\s+{name}\s", proc.stdout, re.MULTILINE), name
    bare = run([], tmp_path)
    assert bare.returncode == 2 and "usage: llmgine" in bare.stderr


@pytest.mark.parametrize("args", [[], ["chat"], ["ask"], ["consortium"], ["models"]])
def test_version_everywhere(args: list[str], tmp_path: Path) -> None:
    proc = run([*args, "--version"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert VERSION.fullmatch(proc.stdout)


@pytest.mark.parametrize(
    ("subcommand", "module"),
    [
        ("chat", "llmgine.engines.tool_chat_engine"),
        ("ask", "llmgine.engines.single_pass_engine"),
        ("consortium", "llmgine.cli.consortium"),
    ],
)
def test_subcommands_take_the_launchers_options(
    subcommand: str, module: str, tmp_path: Path
) -> None:
    mine = run([subcommand, "--help"], tmp_path)
    theirs = run(["--help"], tmp_path, command=[sys.executable, "-m", module])
    assert mine.returncode == theirs.returncode == 0
    assert mine.stdout.startswith(f"usage: llmgine {subcommand}")
    extra = {"--redis"} if subcommand in ("chat", "ask") else set()  # the workers answer
    assert options(mine.stdout) == options(theirs.stdout) | extra
    assert {"--prompt", "--log-dir", "--timeout", "--version"} <= options(mine.stdout)


def test_chat_answers_once_on_the_offline_demo_model(tmp_path: Path) -> None:
    proc = run(
        ["chat", "--tools", str(ROOT / "tools" / "weather.py"), "--prompt", "Weather in Perth?"],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("[offline demo] get_weather says: Perth: ")
    assert "offline demo model" in proc.stderr
    assert list((tmp_path / "logs").glob("*.jsonl")), "the event log is written"


def test_ask_reads_piped_text(tmp_path: Path) -> None:
    proc = run(["ask", "--model", "test", "--no-stream"], tmp_path, stdin="hello\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("This is a reply from the offline TestModel")
    assert proc.stderr == ""


def test_consortium_answers_offline(tmp_path: Path) -> None:
    proc = run(["consortium", "--prompt", "How do I learn Rust?"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "How do I learn Rust?" in proc.stdout


def test_models_shows_keys_and_where_they_come_from_never_their_values(tmp_path: Path) -> None:
    env_key = "sk-env-0123456789abcdefghij"
    file_key = "sk-ant-file-0123456789abcdefghij"
    (tmp_path / ".env").write_text(f"ANTHROPIC_API_KEY={file_key}\n")
    proc = run(["models", "--json"], tmp_path, env={"OPENAI_API_KEY": env_key})
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    providers = {p["provider"]: p for p in report["providers"]}
    assert providers["openai"]["key_set"]
    assert providers["openai"]["key_source"] == "OPENAI_API_KEY from the environment"
    assert providers["anthropic"]["key_source"] == (
        f"ANTHROPIC_API_KEY from the .env file {tmp_path / '.env'}"
    )
    assert not providers["gemini"]["key_set"] and providers["gemini"]["key_source"] is None
    assert {"demo", "test", "ollama", "openai-compatible"} <= set(providers)
    assert report["presets"]["Gpt41Mini"] == [
        "openai:gpt-4.1-mini",
        "openrouter:openai/gpt-4.1-mini",
    ]
    assert report["default"]["model"] == "openai:gpt-4.1-mini"
    table = run(["models"], tmp_path, env={"OPENAI_API_KEY": env_key, "COLUMNS": "200"})
    assert table.returncode == 0
    assert "Default model: openai:gpt-4.1-mini" in table.stdout
    for shown in (proc.stdout, table.stdout, proc.stderr, table.stderr):
        assert env_key not in shown and file_key not in shown


def test_models_without_keys_defaults_to_the_demo_model(tmp_path: Path) -> None:
    proc = run(["models"], tmp_path, env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    assert "Default model: demo (no provider key is set" in proc.stdout
    assert "OPENAI_API_KEY not set" in proc.stdout
