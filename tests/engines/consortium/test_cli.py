"""``python -m llmgine.cli.consortium`` (offline) and its interactive display."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from consortium_helpers import Judge, failing, member, verdict
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from llmgine.bus.bus import MessageBus
from llmgine.cli.consortium import ConsortiumMemberComponent, consortium_cli
from llmgine.engines.consortium import ConsortiumEngine, ConsortiumMemberEvent


def run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    return subprocess.run(
        [sys.executable, "-m", "llmgine.cli.consortium", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )


def test_one_shot_offline_prints_the_combined_answer(tmp_path: Path) -> None:
    proc = run(["--prompt", "How do I learn Rust?", "--log-dir", "logs"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("A fuller answer to \u201cHow do I learn Rust?\u201d")
    assert "Also worth keeping: A short answer" in proc.stdout
    notice, summary = proc.stderr.strip().splitlines()
    assert "offline demo members" in notice and "OPENAI_API_KEY" in notice
    assert summary == "[arbiter: 1 round(s), confidence 90%, confidence reached]"
    (log,) = (tmp_path / "logs").glob("*.jsonl")
    types = {json.loads(line)["event_type"] for line in log.read_text().splitlines()}
    assert {"ConsortiumMemberEvent", "ConsortiumIterationEvent", "ConsortiumCombineEvent"} <= types


def test_options_are_checked_in_one_line(tmp_path: Path) -> None:
    bad = run(["--prompt", "q", "--confidence-threshold", "2"], tmp_path)
    assert bad.returncode == 2 and "confidence_threshold" in bad.stderr
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    unknown = run(["--prompt", "q", "--option", "colour=blue"], tmp_path)
    assert unknown.returncode == 2
    assert "--colour does not apply to --strategy arbiter" in unknown.stderr
    model = run(["--prompt", "q", "--member", "nope:x"], tmp_path)
    assert model.returncode == 2 and "known providers" in model.stderr


def test_members_given_on_the_command_line(tmp_path: Path) -> None:
    proc = run(
        ["--member", "test:2", "--arbiter", "test", "--max-iterations", "1", "--prompt", "q"],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "[arbiter: 1 round(s)" in proc.stderr and "offline demo" not in proc.stderr


def test_help_lists_the_options(tmp_path: Path) -> None:
    proc = run(["--help"], tmp_path)
    assert proc.returncode == 0
    for option in (
        "--member",
        "--arbiter",
        "--strategy",
        "--prompt",
        "--no-stream",
        "--log-dir",
        "--max-iterations",
        "--confidence-threshold",
        "--budget-usd",
    ):
        assert option in proc.stdout
    assert "{arbiter,moa,council}" in proc.stdout
    assert "RuntimeWarning" not in proc.stderr


def test_member_component_shows_answers_and_failures() -> None:
    def text_of(event: ConsortiumMemberEvent) -> str:
        console = Console(file=io.StringIO(), width=80, color_system=None)
        ConsortiumMemberComponent(event).render(console)
        return console.file.getvalue()  # type: ignore[attr-defined]

    answered = ConsortiumMemberEvent(
        label="Member A", model="openai:gpt-x", state="answered", content="Hi **there**",
        duration_s=1.25, usage={"total_tokens": 42},
    )  # fmt: skip
    out = text_of(answered)
    assert "Member A" in out and "openai:gpt-x" in out and "Hi there" in out
    assert "1.2 s" in out and "42 tokens" in out
    failed = ConsortiumMemberEvent(label="Member B", model="m", state="failed", error="timeout")
    assert "Member B (m) gave no answer: timeout" in text_of(failed)
    assert ConsortiumMemberComponent(ConsortiumMemberEvent(state="started")).renderable() is None


async def test_the_interactive_cli_shows_members_confidence_and_answer(
    bus: MessageBus, tmp_path: Path
) -> None:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    engine = ConsortiumEngine(
        [member("alpha says hi", "alpha"), failing("beta")],
        Judge(verdict("the final word", 0.85)),
        session_id="s1",
        member_retries=0,
    )
    with create_pipe_input() as pipe:
        cli = consortium_cli(
            engine,
            "offline notice",
            console=console,
            input=pipe,
            output=DummyOutput(),
            history_file=tmp_path / "history",
        )
        result = await cli.run_once("q")
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert result.success
    assert "offline notice" in out and "arbiter function:judge" in out
    assert "Member A" in out and "alpha says hi" in out
    assert "Member B (function:beta) gave no answer" in out
    assert "confidence 85%" in out
    assert "Consortium" in out and "the final word" in out


async def test_help_lists_only_what_the_consortium_supports(
    bus: MessageBus, tmp_path: Path
) -> None:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    engine = ConsortiumEngine([member("a", "alpha")], Judge(verdict("w", 0.9)), session_id="s1")
    with create_pipe_input() as pipe:
        cli = consortium_cli(
            engine, console=console, input=pipe, output=DummyOutput(), history_file=tmp_path / "h"
        )
        await cli.handle_input("/help")
    out = console.file.getvalue()  # type: ignore[attr-defined]
    for name in ("/help", "/clear", "/cost", "/exit"):
        assert name in out
    for name in ("/model", "/tools", "/system"):  # the consortium has no such setting
        assert name not in out


def test_members_without_their_key_are_warned_about_at_start(tmp_path: Path) -> None:
    proc = run(
        ["--member", "anthropic:claude-haiku-4-5", "--member", "openai:gpt-4.1-mini:2"]
        + ["--member", "test", "--arbiter", "test", "--member-retries", "0"]
        + ["--max-iterations", "1", "--prompt", "q"],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: ANTHROPIC_API_KEY is not set, so anthropic:claude-haiku-4-5 cannot answer; "
        "set it in the environment or a .env file",
        "warning: OPENAI_API_KEY is not set, so openai:gpt-4.1-mini cannot answer; "
        "set it in the environment or a .env file",
    ]
    assert "Traceback" not in proc.stderr
