"""Every block of the README works as written, offline, with no API key.

Python blocks run as standalone scripts from the repository root (a block with
``def test_`` runs as a test file in a project of its own, under pytest, with
no configuration); TOML blocks parse; every command of the bash blocks either
runs (one-shot commands, piped text included) or is a Makefile target or the
documented install line, which is checked without touching the network.
"""

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from fake_server import FakeProviderServer, json_reply

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BIN = Path(sys.executable).parent


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def commands() -> list[str]:
    lines = []
    for block in blocks("bash"):
        for line in block.splitlines():
            command = line.split("  #")[0].strip()
            if command and not command.startswith("#"):
                lines.append(command)
    return lines


def offline_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["LLMGINE_DATA_DIR"] = str(tmp_path / "bus-data")
    env["HOME"] = str(tmp_path)
    env["COLUMNS"] = "120"
    return env


@pytest.fixture
def new_logs() -> object:
    """Remove the event logs the README's commands write to the repository's logs/."""
    logs = ROOT / "logs"
    before = set(logs.glob("*")) if logs.is_dir() else set()
    yield
    for path in set(logs.glob("*")) - before:
        path.unlink()


def test_readme_shows_the_two_setup_commands() -> None:
    assert "make run" in README and "make test" in README
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^run:", makefile, flags=re.MULTILINE)
    assert re.search(r"^test:", makefile, flags=re.MULTILINE)


def test_python_blocks_are_scripts_without_top_level_await() -> None:
    assert len(blocks("python")) >= 10
    for block in blocks("python"):
        compile(block, "<README>", "exec")  # a SyntaxError for a top-level await


@pytest.mark.parametrize(
    "block",
    [b for b in blocks("python") if "def test_" not in b],
    ids=lambda block: block.strip().splitlines()[0][:40],
)
def test_python_blocks_run_as_scripts(block: str, tmp_path: Path, new_logs: object) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", block],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=offline_env(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    if 'prints "pong!"' in block:
        assert "pong!" in proc.stdout
    if "MemoryRecallEvent" in block:  # the recall is shown, not just run
        assert "recalled (" in proc.stdout and "My cat Miso likes tuna." in proc.stdout


def test_the_testing_block_runs_in_a_project_of_its_own(tmp_path: Path) -> None:
    (block,) = [b for b in blocks("python") if "def test_" in b and "cassette" not in b]
    project = tmp_path / "my-project"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_greet.py").write_text(block)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=project,
        env=offline_env(tmp_path),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"\b2 passed\b", proc.stdout), proc.stdout

    # With the configuration the README shows, not even pytest-asyncio's reminder.
    (toml,) = [block for block in blocks("toml") if "pytest" in block]
    (project / "pyproject.toml").write_text(toml)
    configured = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=project,
        env=offline_env(tmp_path),
    )
    assert configured.returncode == 0, configured.stdout + configured.stderr
    assert "warning" not in configured.stdout.lower()


def test_the_cassette_block_records_once_then_replays_offline(tmp_path: Path) -> None:
    (block,) = [b for b in blocks("python") if "llmgine_cassette" in b]
    project = tmp_path / "my-project"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_hello.py").write_text(block)
    recorded = json.loads((ROOT / "tests/models/wire/openai_chat_text.json").read_text())
    key = "sk-proj-" + "Xy12" * 12
    pytest_command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    with FakeProviderServer() as server:  # the "real" API, answering as it once did
        server.add(json_reply(recorded["response"]))
        recording = subprocess.run(
            [*pytest_command, "tests/test_hello.py"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=project,
            env={
                **offline_env(tmp_path),
                "LLMGINE_RECORD": "1",
                "OPENAI_API_KEY": key,
                "OPENAI_BASE_URL": f"{server.url}/v1",
            },
        )
        assert recording.returncode == 0, recording.stdout + recording.stderr
        assert server.received[0].headers["authorization"] == f"Bearer {key}"
    cassette = project / "tests/cassettes/test_hello/test_hello_from_a_cassette.jsonl"
    assert key not in cassette.read_text()
    replaying = subprocess.run(
        pytest_command,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=project,
        env=offline_env(tmp_path),
    )
    assert replaying.returncode == 0, replaying.stdout + replaying.stderr
    assert re.search(r"\b1 passed\b", replaying.stdout), replaying.stdout
    shown = subprocess.run(
        [str(BIN / "llmgine"), "logs", "show", str(cassette.relative_to(project))],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=project,
        env=offline_env(tmp_path),
    )
    assert shown.returncode == 0 and "model openai:gpt-4o" in shown.stdout, shown.stderr


def test_toml_blocks_parse() -> None:
    for block in blocks("toml"):
        tomllib.loads(block)


def test_make_targets_exist() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = {cmd.split()[1] for cmd in commands() if cmd.startswith("make ")}
    assert {"run", "test"} <= targets
    for name in targets | set(re.findall(r"`make (\w[\w-]*)`", README)):
        assert re.search(rf"^{re.escape(name)}:", makefile, flags=re.MULTILINE), name


def test_the_install_line_installs_this_checkout_with_its_extras(tmp_path: Path) -> None:
    (line,) = [cmd for cmd in commands() if cmd.startswith("pip install")]
    assert "llmgine" in line and "-e" in line  # from a checkout, never from the index
    (project := tmp_path / "project").mkdir()
    (tmp_path / "llmgine").symlink_to(ROOT)  # the checkout beside the project
    # The line as written (pip resolving the path and its extras), without the network.
    args = shlex.split(line)[2:]
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--no-deps"]
        + ["--no-build-isolation", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=project,
        env=offline_env(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    assert "Would install llmgine" in proc.stdout


def test_the_readme_never_installs_llmgine_from_the_package_index() -> None:
    for match in re.finditer(r"pip install ([^\n`]*)", README):
        target = match.group(1)
        assert not re.match(r"""["']?llmgine\b""", target), match.group(0)


RUNNABLE = [cmd for cmd in commands() if cmd.startswith((".venv/bin/", "echo "))]


def runnable_blocks() -> list[list[str]]:
    """The runnable commands of each bash block: a block runs in order (later lines
    may read what earlier ones wrote, as a user typing them would)."""
    chosen = []
    for block in blocks("bash"):
        lines = [line.split("  #")[0].strip() for line in block.splitlines()]
        runnable = [line for line in lines if line in RUNNABLE]
        if runnable:
            chosen.append(runnable)
    return chosen


@pytest.mark.parametrize("block", runnable_blocks(), ids=lambda block: block[0][:50])
def test_shell_commands_run_as_written(block: list[str], tmp_path: Path, new_logs: object) -> None:
    for command in block:
        assert ".venv/bin/" in command
        proc = subprocess.run(
            ["bash", "-c", command.replace(".venv/bin/", f"{BIN}/")],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            env=offline_env(tmp_path),
        )
        assert proc.returncode == 0, f"{command}: {proc.stderr}"
        assert proc.stdout.strip(), f"{command}: each command shows something"
        assert "Traceback" not in proc.stderr, command


def test_every_shell_command_is_checked() -> None:
    for command in commands():
        assert command.startswith(("make ", "pip install")) or command in RUNNABLE, command
    assert len(RUNNABLE) >= 5


def test_the_memory_block_recalls_what_it_says(tmp_path: Path, new_logs: object) -> None:
    (block,) = [b for b in runnable_blocks() if any("MemoryRecallEvent" in line for line in b)]
    env = {**offline_env(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
    for command in block:
        proc = subprocess.run(
            ["bash", "-c", command.replace(".venv/bin/", f"{BIN}/")],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            env=env,
        )
        assert proc.returncode == 0, proc.stderr
    (event,) = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert "Miso and she likes tuna" in event["recalled"][0]["text"]
