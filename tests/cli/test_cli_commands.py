"""Slash commands, run through EngineCLI.handle_input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cli_fake_engine import EchoEngine
from cli_test_utils import output_of
from rich.console import Console

from llmgine.bus.bus import MessageBus
from llmgine.cli import EngineCLI
from llmgine.cli.commands import parse_slash_command
from llmgine.engines.base import Engine
from llmgine.engines.messages import EngineCommand
from llmgine.messages.commands import CommandResult

MakeCLI = Callable[..., EngineCLI]


@pytest.fixture
def engine() -> EchoEngine:
    return EchoEngine("s1")


@pytest.fixture
def cli(fresh_bus: MessageBus, make_cli: MakeCLI, engine: EchoEngine) -> EngineCLI:
    cli = make_cli()
    cli.register_engine(engine)
    cli.register_engine_command(engine.command_type, engine.handle_command)
    return cli


class BareEngine(Engine):
    """An engine with none of the optional attributes."""

    async def handle_command(self, command: EngineCommand) -> CommandResult:
        return CommandResult(success=True, result="bare")


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        ("/model", ("model", "")),
        ("/Model  openai:gpt-4.1 ", ("model", "openai:gpt-4.1")),
        ("/system be brief\nreally", ("system", "be brief\nreally")),
        ("hello", None),
        ("//not a command", None),
        ("/", None),
        ("/ x", None),
    ],
)
def test_parse_slash_command(line: str, parsed: tuple[str, str] | None) -> None:
    assert parse_slash_command(line) == parsed


async def test_model_shows_and_switches(cli: EngineCLI, engine: EchoEngine, console: Console):
    await cli.handle_input("/model")
    await cli.handle_input("/model other:model")
    assert engine.model.model_string == "other:model"
    assert output_of(console) == "Model: fake:echo\nModel: other:model\n"


async def test_failing_command_prints_one_line(
    cli: EngineCLI, engine: EchoEngine, console: Console
):
    await cli.handle_input("/model bad")
    assert output_of(console) == "Error: /model failed: ValueError: unknown model 'bad'\n"
    assert engine.model.model_string == "fake:echo"


async def test_tools(cli: EngineCLI, engine: EchoEngine, console: Console):
    await cli.handle_input("/tools")
    assert "get_weather" in output_of(console)
    engine.tool_names = []
    await cli.handle_input("/tools")
    assert "No tools registered." in output_of(console)


async def test_system(cli: EngineCLI, engine: EchoEngine, console: Console):
    await cli.handle_input("/system")
    await cli.handle_input("/system You are terse.")
    assert engine.system_prompt == "You are terse."
    await cli.handle_input("/system")
    await cli.handle_input("/system --clear")
    assert engine.system_prompt is None
    assert output_of(console) == (
        "No system prompt.\n"
        "System prompt set.\n"
        "System prompt: You are terse.\n"
        "System prompt removed.\n"
    )


async def test_clear_calls_the_engine(cli: EngineCLI, engine: EchoEngine, console: Console):
    await cli.handle_input("/clear")
    assert engine.cleared == 1
    assert "Conversation cleared." in output_of(console)


async def test_sync_clear_context_works_too(
    cli: EngineCLI, engine: EchoEngine, monkeypatch: pytest.MonkeyPatch
):
    calls: list[int] = []
    monkeypatch.setattr(engine, "clear_context", lambda: calls.append(1))
    await cli.handle_input("/clear")
    assert calls == [1]


async def test_cost(cli: EngineCLI, console: Console):
    await cli.handle_input("/cost")
    assert output_of(console) == "Session: 0 tokens (0 in, 0 out), cost unknown\n"
    await cli.run_once("hi")
    await cli.run_once("again")
    await cli.handle_input("/cost")
    out = output_of(console)
    assert "Session: 30 tokens (20 in, 10 out), cost $0.0030" in out
    assert "Last turn: 15 tokens (10 in, 5 out), cost $0.0015" in out


async def test_unknown_command_is_one_line(cli: EngineCLI, engine: EchoEngine, console: Console):
    await cli.handle_input("/frobnicate now")
    assert output_of(console) == "Error: Unknown command /frobnicate; type /help for the list.\n"
    assert engine.prompts == []


async def test_exit_requests_exit(cli: EngineCLI):
    await cli.handle_input("/exit")
    assert cli._exit_requested


async def test_unsupported_commands_say_so(
    fresh_bus: MessageBus, make_cli: MakeCLI, console: Console
):
    cli = make_cli()
    cli.register_engine(BareEngine(session_id="s1"))
    for line in ("/model", "/model x", "/tools", "/system", "/system x", "/clear"):
        await cli.handle_input(line)
    lines = output_of(console).splitlines()
    assert lines == [
        f"/{name} is not supported by BareEngine."
        for name in ("model", "model", "tools", "system", "system", "clear")
    ]
    await cli.handle_input("/cost")  # every Engine has usage
    assert "Session: 0 tokens" in output_of(console)


async def test_help_lists_only_the_commands_the_engine_supports(
    fresh_bus: MessageBus, make_cli: MakeCLI, console: Console
):
    cli = make_cli()
    cli.register_engine(BareEngine(session_id="s1"))
    cli.register_cli_command("later", lambda: None, "not yet", available=lambda: False)
    await cli.handle_input("/help")
    out = output_of(console)
    for name in ("/help", "/cost", "/exit", "/quit"):
        assert name in out
    for name in ("/model", "/tools", "/system", "/clear", "/later"):
        assert name not in out


async def test_commands_without_an_engine(
    fresh_bus: MessageBus, make_cli: MakeCLI, console: Console
):
    await make_cli().handle_input("/model")
    assert output_of(console) == "/model is not supported by this CLI (no engine).\n"


async def test_register_cli_command(cli: EngineCLI, console: Console):
    seen: list[str] = []

    def no_args() -> None:
        seen.append("no args")

    async def with_args(args: str) -> None:
        seen.append(f"args={args}")

    cli.register_cli_command("ping", no_args, help="say pong")
    cli.register_cli_command("/echo", with_args, help="echo the arguments")
    await cli.handle_input("/ping")
    await cli.handle_input("/echo a b  c")
    await cli.handle_input("/help")
    assert seen == ["no args", "args=a b  c"]
    out = output_of(console)
    assert "/ping" in out
    assert "say pong" in out
    assert "echo the arguments" in out


async def test_empty_input_does_nothing(cli: EngineCLI, engine: EchoEngine, console: Console):
    assert await cli.handle_input("   \n") is None
    assert engine.prompts == []
    assert output_of(console) == ""


async def test_thinking_is_dim_and_collapsed_until_thinking_is_toggled(
    fresh_bus: MessageBus, make_cli: MakeCLI, console: Console
):
    from llmgine.engines.tool_chat_engine import ToolChatEngine
    from llmgine.models.response import ThinkingDelta
    from llmgine.testing import FunctionModel

    def stream_fn(messages: list[dict[str, object]], info: object) -> list[object]:
        return [ThinkingDelta("The user greets me warmly."), "Hello there!"]

    engine = ToolChatEngine("s1", model=FunctionModel(stream_fn=stream_fn), stream=True)
    cli = make_cli()
    cli.register_engine(engine)
    cli.register_engine_command(engine.command_type, engine.handle_command)

    await cli.run_once("hi")
    out = output_of(console)
    assert "▸ thought for 5 words (/thinking to show)" in out
    assert "greets me warmly" not in out
    assert out.index("thought for") < out.index("Hello there!")

    await cli.handle_input("/thinking")
    out = output_of(console)
    assert "Thinking is shown from now on." in out
    assert "The user greets me warmly." in out  # the last turn's thinking

    await cli.run_once("again")
    assert output_of(console).count("The user greets me warmly.") == 2
    await cli.handle_input("/thinking")
    assert "Thinking is collapsed to one line." in output_of(console)


async def test_new_starts_a_conversation_and_names_the_stored_one(
    make_cli: Callable[..., EngineCLI], console: Console, tmp_path: Path, bus: MessageBus
) -> None:
    from llmgine.engines import ToolChatEngine
    from llmgine.testing import ScriptedModel

    engine = ToolChatEngine("s1", model=ScriptedModel(["one", "two"]), db=tmp_path / "c.db")
    cli = make_cli()
    cli.register_engine(engine)
    cli.register_engine_command(engine.command_type, engine.handle_announced)
    await cli.run_once("first")
    kept = engine.conversation_id
    await cli.handle_input("/new")
    assert engine.conversation_id != kept
    said = " ".join(output_of(console).split())
    assert f"the last one is kept as {kept} (llmgine chat --conversation {kept})" in said
    await cli.handle_input("/help")
    assert "/new" in output_of(console)
