"""The prompts on their own, answered through a pipe input."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from cli_test_utils import make_console, output_of
from prompt_toolkit.input import PipeInput
from prompt_toolkit.output import DummyOutput

from llmgine.bus.bus import MessageBus
from llmgine.cli import (
    EngineCLI,
    SelectPrompt,
    SelectPromptCommand,
    YesNoPrompt,
    YesNoPromptCommand,
)
from llmgine.tools.events import ToolApprovalCommand


def prompt_kwargs(pipe_input: PipeInput) -> dict[str, object]:
    return {"console": make_console(), "input": pipe_input, "output": DummyOutput()}


@pytest.mark.parametrize(("keys", "expected"), [("y", True), ("N", False), ("\x04", False)])
async def test_yes_no_prompt(pipe_input: PipeInput, keys: str, expected: bool):
    prompt = YesNoPrompt(YesNoPromptCommand(prompt="Go on?"), **prompt_kwargs(pipe_input))
    pipe_input.send_text(keys)
    assert await asyncio.wait_for(prompt.get_input(), 10) is expected
    assert "Go on?" in output_of(prompt.console)


async def test_yes_no_prompt_ctrl_c_raises_keyboard_interrupt(pipe_input: PipeInput):
    prompt = YesNoPrompt(YesNoPromptCommand(prompt="Go on?"), **prompt_kwargs(pipe_input))
    pipe_input.send_text("\x03")
    with pytest.raises(KeyboardInterrupt):  # no wait_for: its task would pass it to the loop
        await prompt.get_input()


async def test_yes_no_prompt_describes_a_tool_call(pipe_input: PipeInput):
    command = ToolApprovalCommand(
        tool_name="send_email",
        arguments={"to": "a@example.com"},
        description="Send an email.\n\nLong details.",
    )
    prompt = YesNoPrompt(command, **prompt_kwargs(pipe_input))
    pipe_input.send_text("y")
    assert await asyncio.wait_for(prompt.get_input(), 10) is True
    out = output_of(prompt.console)
    assert "Run the tool send_email?" in out
    assert "Send an email." in out
    assert "Long details" not in out
    assert '{"to": "a@example.com"}' in out


async def test_select_prompt_returns_the_number(pipe_input: PipeInput):
    command = SelectPromptCommand(prompt="Which one?", options=["red", "green"], title="Colour")
    prompt = SelectPrompt(command, **prompt_kwargs(pipe_input))
    pipe_input.send_text("7\n\x7f2\n")  # 7 is refused; Backspace, 2
    assert await asyncio.wait_for(prompt.get_input(), 10) == 2
    assert prompt.selected == "green"
    out = output_of(prompt.console)
    assert "Colour" in out
    assert "1. red" in out
    assert "2. green" in out


async def test_select_prompt_with_a_number_of_options(pipe_input: PipeInput):
    command = SelectPromptCommand(prompt="Pick 1-3", option_number=3)
    prompt = SelectPrompt(command, **prompt_kwargs(pipe_input))
    pipe_input.send_text("3\n")
    assert await asyncio.wait_for(prompt.get_input(), 10) == 3
    assert prompt.selected is None


def test_select_prompt_needs_options():
    with pytest.raises(ValueError, match="at least one option"):
        SelectPrompt(SelectPromptCommand(prompt="nothing"))


async def test_select_prompt_through_the_bus(
    bus: MessageBus, make_cli: Callable[..., EngineCLI], pipe_input: PipeInput
):
    cli = make_cli()
    cli.register_prompt_command(SelectPromptCommand, SelectPrompt)
    pipe_input.send_text("1\n")
    command = SelectPromptCommand(prompt="?", options=["only"], session_id="s1")
    result = await asyncio.wait_for(bus.execute(command), 10)
    assert result.success
    assert result.result == 1


async def test_prompts_are_asked_one_at_a_time(
    bus: MessageBus, make_cli: Callable[..., EngineCLI], pipe_input: PipeInput
):
    make_cli()
    pipe_input.send_text("yn")
    first, second = await asyncio.wait_for(
        asyncio.gather(
            bus.execute(ToolApprovalCommand(tool_name="a", session_id="s1")),
            bus.execute(ToolApprovalCommand(tool_name="b", session_id="s1")),
        ),
        10,
    )
    assert (first.result, second.result) == (True, False)


async def test_failing_prompt_gives_a_failed_result(
    bus: MessageBus, make_cli: Callable[..., EngineCLI]
):
    cli = make_cli()
    cli.register_prompt_command(SelectPromptCommand, SelectPrompt)
    result = await bus.execute(SelectPromptCommand(prompt="no options", session_id="s1"))
    assert not result.success
    assert result.error == "ValueError: a select prompt needs at least one option"
    assert "the prompt failed" in output_of(cli.console)
