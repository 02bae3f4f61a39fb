"""EngineCLI.main() driven through prompt_toolkit's pipe input."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_fake_engine import EchoEngine
from cli_test_utils import output_of
from prompt_toolkit.input import PipeInput
from rich.console import Console

from llmgine.bus.bus import MessageBus
from llmgine.cli import EngineCLI

MakeCLI = Callable[..., EngineCLI]


def cli_with_engine(make_cli: MakeCLI, *, stream: bool = False) -> tuple[EngineCLI, EchoEngine]:
    engine = EchoEngine("s1", stream=stream)
    cli = make_cli()
    cli.register_engine(engine)
    cli.register_engine_command(engine.command_type, engine.handle_command)
    return cli, engine


async def run_main(cli: EngineCLI, pipe_input: PipeInput, *lines: str) -> None:
    pipe_input.send_text("".join(lines))
    await asyncio.wait_for(cli.main(), 20)


async def test_a_session(
    fresh_bus: MessageBus, make_cli: MakeCLI, pipe_input: PipeInput, console: Console
):
    cli, engine = cli_with_engine(make_cli)
    await run_main(cli, pipe_input, "hello\n", "/help\n", "/cost\n", "/exit\n")
    out = output_of(console)
    assert engine.prompts == ["hello"]
    assert "llmgine · EchoEngine · fake:echo" in out
    assert "Alt+Enter" in out
    assert out.count("echo: hello") == 1
    for name in ("/help", "/clear", "/model", "/tools", "/system", "/cost", "/exit"):
        assert name in out
    assert "Session: 15 tokens (10 in, 5 out), cost $0.0015" in out
    assert not fresh_bus.is_running  # main() stopped the bus


async def test_main_stops_the_bus_it_did_not_start(
    bus: MessageBus, make_cli: MakeCLI, pipe_input: PipeInput
):
    cli, _ = cli_with_engine(make_cli)
    await run_main(cli, pipe_input, "\x04")  # Ctrl-D
    assert not bus.is_running


async def test_ctrl_d_quits(fresh_bus: MessageBus, make_cli: MakeCLI, pipe_input: PipeInput):
    cli, engine = cli_with_engine(make_cli)
    await run_main(cli, pipe_input, "one\n", "\x04", "never sent\n")
    assert engine.prompts == ["one"]


async def test_ctrl_c_at_an_empty_prompt_warns_and_twice_quits(
    fresh_bus: MessageBus, make_cli: MakeCLI, pipe_input: PipeInput, console: Console
):
    cli, engine = cli_with_engine(make_cli)
    await run_main(cli, pipe_input, "\x03", "after\n", "typed\x03", "\x03", "\x03")
    assert engine.prompts == ["after"]  # the line typed before Ctrl-C was discarded
    assert output_of(console).count("Press Ctrl-C again or Ctrl-D to quit.") == 2


async def test_alt_enter_inserts_a_new_line(
    fresh_bus: MessageBus, make_cli: MakeCLI, pipe_input: PipeInput
):
    cli, engine = cli_with_engine(make_cli)
    await run_main(cli, pipe_input, "line one\x1b\rline two\r", "/exit\n")
    assert engine.prompts == ["line one\nline two"]


async def test_failing_command_prints_one_line_and_the_loop_goes_on(
    fresh_bus: MessageBus, make_cli: MakeCLI, pipe_input: PipeInput, console: Console
):
    cli, engine = cli_with_engine(make_cli)
    await run_main(cli, pipe_input, "fail please\n", "boom\n", "after\n", "/exit\n")
    assert engine.prompts == ["fail please", "boom", "after"]
    out = output_of(console)
    assert "Error: the model is unavailable\n" in out
    assert "Error: RuntimeError: engine exploded\n" in out
    assert "Traceback" not in out
    assert "echo: after" in out


async def test_history_is_kept_across_runs(
    fresh_bus: MessageBus, make_cli: MakeCLI, pipe_input: PipeInput, tmp_path: Path
):
    cli, _ = cli_with_engine(make_cli)
    await run_main(cli, pipe_input, "remember me\n", "/exit\n")
    assert "remember me" in (tmp_path / "history").read_text()

    await fresh_bus.reset()
    fresh_bus.data_dir = tmp_path / "bus-data"
    second, engine = cli_with_engine(make_cli)
    await run_main(second, pipe_input, "\x1b[A\x1b[A\n", "/exit\n")  # Up, Up, Enter
    assert engine.prompts == ["remember me"]


async def test_slash_prefix_escape_sends_a_message(
    fresh_bus: MessageBus, make_cli: MakeCLI, pipe_input: PipeInput
):
    cli, engine = cli_with_engine(make_cli)
    await run_main(cli, pipe_input, "//usr/bin is a path\n", "/exit\n")
    assert engine.prompts == ["/usr/bin is a path"]


@pytest.mark.parametrize("key", ["y", "n"])
async def test_approval_prompt_inside_main(
    fresh_bus: MessageBus, make_cli: MakeCLI, pipe_input: PipeInput, console: Console, key: str
):
    cli, _ = cli_with_engine(make_cli)
    await run_main(cli, pipe_input, "tool now\n", key, "/exit\n")
    out = output_of(console)
    assert ("sunny, 21C" in out) is (key == "y")
    assert "echo: tool now" in out
