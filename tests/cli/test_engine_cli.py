from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable

import pytest
from cli_fake_engine import EchoEngine, EchoStatusEvent
from cli_test_utils import output_of
from prompt_toolkit.input import PipeInput
from rich.console import Console

from llmgine.bus.bus import MessageBus
from llmgine.cli import EngineCLI, ToolComponentShort, UserComponent, YesNoPromptCommand
from llmgine.errors import ConfigurationError
from llmgine.messages.commands import CommandResult
from llmgine.tools.events import ToolApprovalCommand, ToolExecuteResultEvent

MakeCLI = Callable[..., EngineCLI]


def cli_with_engine(make_cli: MakeCLI, *, stream: bool = False) -> tuple[EngineCLI, EchoEngine]:
    engine = EchoEngine("s1", stream=stream)
    cli = make_cli()
    cli.register_engine(engine)
    cli.register_engine_command(engine.command_type, engine.handle_command)
    return cli, engine


# -- run_once ---------------------------------------------------------------------


async def test_run_once_shows_the_answer(bus: MessageBus, make_cli: MakeCLI, console: Console):
    cli, engine = cli_with_engine(make_cli)
    result = await cli.run_once("hello")
    assert result.success
    assert result.result == "echo: hello"
    assert engine.prompts == ["hello"]
    out = output_of(console)
    assert out.count("echo: hello") == 1
    assert "Assistant" in out


async def test_run_once_streamed_answer_is_printed_once(
    bus: MessageBus, make_cli: MakeCLI, console: Console
):
    cli, _ = cli_with_engine(make_cli, stream=True)
    result = await cli.run_once("hello")
    assert result.result == "echo: hello"
    assert output_of(console).count("echo: hello") == 1


async def test_run_once_registers_the_engine_command_itself(
    fresh_bus: MessageBus, make_cli: MakeCLI, console: Console
):
    engine = EchoEngine("s1")
    cli = make_cli()
    cli.register_engine(engine)
    result = await cli.run_once("hi")
    assert result.result == "echo: hi"


async def test_without_engine_command_setup_fails_clearly(fresh_bus: MessageBus, make_cli: MakeCLI):
    with pytest.raises(ConfigurationError, match="register_engine_command"):
        await make_cli().run_once("hi")


async def test_failed_result_is_one_red_line(bus: MessageBus, make_cli: MakeCLI, console: Console):
    cli, _ = cli_with_engine(make_cli)
    result = await cli.run_once("fail now")
    assert not result.success
    assert output_of(console) == "Error: the model is unavailable\n"


async def test_raising_engine_is_one_line_without_traceback(
    bus: MessageBus, make_cli: MakeCLI, console: Console
):
    cli, _ = cli_with_engine(make_cli)
    result = await cli.run_once("boom")
    assert not result.success
    out = output_of(console)
    assert out == "Error: RuntimeError: engine exploded\n"
    assert "Traceback" not in out


async def test_custom_result_component(
    bus: MessageBus, make_cli: MakeCLI, console: Console, capsys: pytest.CaptureFixture[str]
):
    class Plain:
        def __init__(self, result: CommandResult) -> None:
            self.text = result.result

        def render(self) -> None:  # seed style: no console argument
            print(f"PLAIN {self.text}")

    cli, _ = cli_with_engine(make_cli)
    cli.register_engine_result_component(UserComponent)
    await cli.run_once("one")
    assert "You" in output_of(console)
    cli.register_engine_result_component(Plain)
    await cli.run_once("two")  # printed on stdout by the component itself
    assert "PLAIN echo: two" in capsys.readouterr().out


async def test_cancel_turn(bus: MessageBus, make_cli: MakeCLI, console: Console):
    cli, engine = cli_with_engine(make_cli)
    turn = asyncio.create_task(cli.run_once("slow"))
    await asyncio.wait_for(engine.started.wait(), 10)
    assert cli.turn_running
    assert cli.cancel_turn()
    result = await asyncio.wait_for(turn, 10)
    assert not result.success
    assert result.error == "cancelled"
    assert "cancelled" in output_of(console)
    assert not cli.turn_running
    assert not cli.cancel_turn()
    # the CLI still works
    assert (await cli.run_once("again")).success


async def test_sigint_during_a_turn_cancels_the_turn_only(
    bus: MessageBus, make_cli: MakeCLI, console: Console
):
    before = signal.getsignal(signal.SIGINT)
    cli, engine = cli_with_engine(make_cli)
    turn = asyncio.create_task(cli.run_once("slow"))
    await asyncio.wait_for(engine.started.wait(), 10)
    os.kill(os.getpid(), signal.SIGINT)
    result = await asyncio.wait_for(turn, 10)
    assert result.error == "cancelled"
    assert signal.getsignal(signal.SIGINT) is before


# -- events -------------------------------------------------------------------------


async def test_status_events_of_subclasses_are_handled_once(
    bus: MessageBus, make_cli: MakeCLI, monkeypatch: pytest.MonkeyPatch
):
    cli, _ = cli_with_engine(make_cli)
    seen: list[str] = []
    monkeypatch.setattr(cli.display, "set_status", seen.append)
    cli._turn_task = asyncio.create_task(asyncio.sleep(10))  # pretend a turn runs
    try:
        await bus.publish(EchoStatusEvent(status="working", session_id="s1"))
        await bus.publish(EchoStatusEvent(status="elsewhere", session_id="other"))
    finally:
        cli._turn_task.cancel()
    assert seen == ["working"]


async def test_component_event_uses_the_most_specific_registration(
    bus: MessageBus, make_cli: MakeCLI, console: Console
):
    class MyToolEvent(ToolExecuteResultEvent, kw_only=True):
        pass

    cli = make_cli()
    cli.register_component_event(MyToolEvent, ToolComponentShort)
    await bus.publish(MyToolEvent(tool_name="short_one", session_id="s1"))
    await bus.publish(ToolExecuteResultEvent(tool_name="long_one", result="r", session_id="s1"))
    out = output_of(console)
    assert out.count("short_one") == 1
    assert "Tool: short_one" not in out
    assert "Tool: long_one" in out


# -- prompts ------------------------------------------------------------------------


@pytest.mark.parametrize(("keys", "expected"), [("y", True), ("n", False), ("Y", True)])
async def test_tool_approval_is_answered_by_a_yes_no_prompt(
    bus: MessageBus,
    make_cli: MakeCLI,
    pipe_input: PipeInput,
    console: Console,
    keys: str,
    expected: bool,
):
    make_cli()
    pipe_input.send_text(keys)
    command = ToolApprovalCommand(
        tool_name="delete_file", arguments={"path": "/tmp/x"}, session_id="s1"
    )
    result = await asyncio.wait_for(bus.execute(command), 10)
    assert result.success
    assert result.result is expected
    out = output_of(console)
    assert "delete_file" in out
    assert '{"path": "/tmp/x"}' in out


async def test_yes_no_prompt_for_other_commands(
    bus: MessageBus, make_cli: MakeCLI, pipe_input: PipeInput, console: Console
):
    from llmgine.cli import YesNoPrompt

    cli = make_cli()
    cli.register_prompt_command(YesNoPromptCommand, YesNoPrompt)
    pipe_input.send_text("xzy")  # other keys are ignored
    result = await bus.execute(YesNoPromptCommand(prompt="Deploy now?", session_id="s1"))
    assert result.result is True
    assert "Deploy now?" in output_of(console)


async def test_ctrl_c_in_a_prompt_during_a_turn_cancels_the_turn(
    bus: MessageBus, make_cli: MakeCLI, pipe_input: PipeInput, console: Console
):
    cli, _ = cli_with_engine(make_cli)
    pipe_input.send_text("\x03")
    result = await asyncio.wait_for(cli.run_once("tool please"), 10)
    assert result.error == "cancelled"
    assert "cancelled" in output_of(console)


@pytest.mark.parametrize(("keys", "shown"), [("y", "sunny, 21C"), ("n", "declined")])
async def test_tool_turn_with_approval(
    bus: MessageBus,
    make_cli: MakeCLI,
    pipe_input: PipeInput,
    console: Console,
    keys: str,
    shown: str,
):
    cli, _ = cli_with_engine(make_cli, stream=True)
    pipe_input.send_text(keys)
    result = await asyncio.wait_for(cli.run_once("tool weather"), 10)
    assert result.success
    out = output_of(console)
    assert "Approve?" in out
    assert "get_weather" in out
    assert shown in out
    assert out.index("Approve?") < out.index(shown) < out.index("echo: tool weather")


async def test_an_existing_approval_handler_is_kept(
    bus: MessageBus, make_cli: MakeCLI, console: Console
):
    bus.register_command_handler(ToolApprovalCommand, lambda command: True, session_id="s1")
    cli = make_cli()
    assert ToolApprovalCommand not in cli.prompt_lookup
    result = await bus.execute(ToolApprovalCommand(tool_name="x", session_id="s1"))
    assert result.result is True
    assert output_of(console) == ""
