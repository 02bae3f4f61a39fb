"""Slash commands: ``/help``, ``/model``, ``/cost`` ... typed at the CLI's prompt.

A command is a function called with the text after its name (``/model
openai:gpt-4.1`` calls ``model("openai:gpt-4.1")``); functions that take no
argument are called without it, and async functions are awaited. Register
your own with ``EngineCLI.register_cli_command(name, func, help="...")``.

The built-in commands work with any engine that has the matching attribute
(``set_model``, ``tool_names``, ``usage``...); for an engine without it they
say the command is not supported.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from llmgine.cli._util import call_maybe_async, one_line
from llmgine.cli.host import CLIHost
from llmgine.cli.input_session import KEY_HINT
from llmgine.cli.live import thinking_view
from llmgine.cli.slash import SlashCommand, SlashCommands, parse_slash_command

__all__ = ["BuiltinCommands", "SlashCommand", "SlashCommands", "parse_slash_command"]

# The registry lives in llmgine.cli.slash; its names stay importable from here.


class BuiltinCommands:
    """The commands every CLI has; each method is one command.

    Args:
        cli: The CLI whose engine and console they use.
    """

    def __init__(self, cli: CLIHost) -> None:
        self.cli = cli

    def register(self, commands: SlashCommands) -> None:
        """Register every built-in command (each listed by /help only if the engine has it)."""
        has = self._has
        commands.register("help", self.help, "show the commands and keys")
        commands.register(
            "clear",
            self.clear,
            "forget the conversation (engine.clear_context; a stored one is deleted)",
            lambda: has("clear_context"),
        )
        commands.register(
            "new",
            self.new,
            "start a new conversation (a stored one is kept: llmgine chat --conversation ID)",
            lambda: has("new_conversation"),
        )
        commands.register(
            "model",
            self.model,
            "show the model, or switch: /model provider:name",
            lambda: has("model"),
        )
        commands.register(
            "tools",
            self.tools,
            "list the engine's tools (and the MCP server of each MCP tool)",
            lambda: has("tool_names"),
        )
        commands.register(
            "system",
            self.system,
            "show the system prompt, or set: /system text",
            lambda: has("system_prompt"),
        )
        commands.register(
            "cost", self.cost, "tokens used and cost of this session", lambda: has("usage")
        )
        commands.register("thinking", self.thinking, "show the model's thinking, or collapse it")
        commands.register("exit", self.exit, "quit (also Ctrl-D)")
        commands.register("quit", self.exit, "quit (same as /exit)")

    # -- helpers -------------------------------------------------------------

    def _has(self, *attributes: str) -> bool:
        engine = self.cli.engine
        return engine is not None and all(hasattr(engine, name) for name in attributes)

    def _supports(self, command: str, *attributes: str) -> bool:
        """True if the engine has every attribute; otherwise say ``/command`` is not supported."""
        if self._has(*attributes):
            return True
        engine = self.cli.engine
        owner = type(engine).__name__ if engine is not None else "this CLI (no engine)"
        self.cli.print_info(f"/{command} is not supported by {owner}.")
        return False

    def _model_line(self) -> str:
        model = self.cli.engine.model
        return f"Model: {getattr(model, 'model_string', None) or model}"

    # -- commands ------------------------------------------------------------

    def help(self) -> None:
        """List the commands (those the engine supports) and keys."""
        table = Table.grid(padding=(0, 2))
        for command in self.cli.cli_commands:
            if not command.is_available:
                continue
            table.add_row(Text(f"/{command.name}", style="bold cyan"), Text(command.help))
        self.cli.render(table)
        self.cli.print_info(KEY_HINT)
        self.cli.print_info(
            "Ctrl-C cancels a running answer; at an empty prompt press it twice to quit. "
            "Start a message with // to send a line beginning with /."
        )

    async def clear(self) -> None:
        """Forget the conversation."""
        if self._supports("clear", "clear_context"):
            await call_maybe_async(self.cli.engine.clear_context)
            self.cli.print_info("Conversation cleared.")

    async def new(self) -> None:
        """Start a new conversation, keeping the stored one."""
        if self._supports("new", "new_conversation"):
            before = getattr(self.cli.engine, "conversation_id", None)
            await call_maybe_async(self.cli.engine.new_conversation)
            if before:
                self.cli.print_info(
                    f"New conversation; the last one is kept as {before} "
                    f"(llmgine chat --conversation {before})."
                )
            else:
                self.cli.print_info("New conversation.")

    async def model(self, args: str) -> None:
        """Show the model, or switch to ``args``."""
        if not args:
            if self._supports("model", "model"):
                self.cli.print_info(self._model_line())
        elif self._supports("model", "model", "set_model"):
            await call_maybe_async(self.cli.engine.set_model, args)
            self.cli.print_info(self._model_line())

    def tools(self) -> None:
        """List the engine's tools (with the first line of their description)."""
        if not self._supports("tools", "tool_names"):
            return
        names = list(self.cli.engine.tool_names or [])
        if not names:
            self.cli.print_info("No tools registered.")
            return
        tools = getattr(getattr(self.cli.engine, "tool_manager", None), "tools", None)
        table = Table.grid(padding=(0, 2))
        for name in names:
            tool = tools.get(name) if isinstance(tools, dict) else None
            description = str(getattr(tool, "description", "") or "").strip()
            first = description.splitlines()[0] if description else ""
            server = getattr(tool, "server", None)  # an MCP server's tool says which
            source = Text(f"MCP: {server}", style="cyan") if server else Text("")
            table.add_row(Text(name, style="bold yellow"), source, Text(one_line(first, 100)))
        self.cli.render(table)

    async def system(self, args: str) -> None:
        """Show the system prompt, set it to ``args``, or remove it (``--clear``)."""
        if not args:
            if self._supports("system", "system_prompt"):
                current = self.cli.engine.system_prompt
                self.cli.print_info(f"System prompt: {current}" if current else "No system prompt.")
        elif self._supports("system", "set_system_prompt"):
            clear = args == "--clear"
            await call_maybe_async(self.cli.engine.set_system_prompt, None if clear else args)
            self.cli.print_info("System prompt removed." if clear else "System prompt set.")

    def cost(self) -> None:
        """Tokens and cost of the session (and of the last turn)."""
        if not self._supports("cost", "usage"):
            return
        usage = self.cli.engine.usage
        session = getattr(usage, "session", None)
        if session is None:
            self.cli.print_info("/cost is not supported by this engine's usage record.")
            return
        session_cost = _dollars(getattr(usage, "session_cost_usd", None))
        self.cli.print_info(f"Session: {_tokens(session)}, cost {session_cost}")
        turn = getattr(usage, "turn", None)
        if turn is not None and int(getattr(turn, "total_tokens", 0) or 0):
            turn_cost = _dollars(getattr(usage, "turn_cost_usd", None))
            self.cli.print_info(f"Last turn: {_tokens(turn)}, cost {turn_cost}")

    def thinking(self) -> None:
        """Toggle between showing the model's thinking and collapsing it to one line."""
        display = self.cli.display
        display.show_thinking = not display.show_thinking
        if not display.show_thinking:
            self.cli.print_info("Thinking is collapsed to one line.")
            return
        self.cli.print_info("Thinking is shown from now on.")
        if display.thinking.strip():
            self.cli.render(thinking_view(display.thinking, expanded=True))

    def exit(self) -> None:
        """Quit the CLI."""
        self.cli.request_exit()


def _tokens(usage: Any) -> str:
    total = int(getattr(usage, "total_tokens", 0) or 0)
    prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion = int(getattr(usage, "completion_tokens", 0) or 0)
    return f"{total:,} tokens ({prompt:,} in, {completion:,} out)"


def _dollars(cost: float | None) -> str:
    return "unknown" if cost is None else f"${cost:.4f}"
