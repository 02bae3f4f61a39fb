"""The interactive terminal front end of an engine: ``EngineCLI``.

The CLI is a pure bus client. It sends the engine's command for each message,
and shows what the engine reports through events of its session: status
events drive a spinner, text deltas stream the answer live, tool results and
other registered events become components. Commands the engine needs answered
by the user (``ToolApprovalCommand``) are answered with prompts::

    cli = EngineCLI(engine.session_id)
    cli.register_engine(engine)
    cli.register_engine_command(engine.command_type, engine.handle_announced)
    await cli.main()          # or: result = await cli.run_once("hello")

Keys are described in :mod:`llmgine.cli.input_session`; slash commands in
:mod:`llmgine.cli.commands`. Ctrl-C while an answer is coming cancels that
turn and the CLI goes on. The screen is never cleared.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

from prompt_toolkit import PromptSession
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output
from rich.console import Console
from rich.protocol import is_renderable
from rich.text import Text

from llmgine.bus.bus import MessageBus
from llmgine.bus.interface import Bus
from llmgine.cli._util import accepts_arguments, most_specific, takes_keyword
from llmgine.cli.commands import (
    BuiltinCommands,
    SlashCommand,
    SlashCommands,
    parse_slash_command,
)
from llmgine.cli.components import (
    CLIComponent,
    EngineResultComponent,
    ErrorComponent,
    ToolComponent,
)
from llmgine.cli.input_session import (
    KEY_HINT,
    Interrupted,
    create_history,
    create_input_session,
)
from llmgine.cli.interrupt import SigintHandler
from llmgine.cli.live import TurnDisplay
from llmgine.cli.prompt_router import PromptRouter
from llmgine.cli.prompts import YesNoPrompt
from llmgine.engines.messages import (
    EngineStatusEvent,
    EngineTextDeltaEvent,
    EngineThinkingDeltaEvent,
)
from llmgine.errors import ConfigurationError, HandlerRegistrationError
from llmgine.messages.base import ROOT
from llmgine.messages.commands import Command, CommandResult
from llmgine.messages.events import Event
from llmgine.tools.events import ToolApprovalCommand, ToolExecuteResultEvent

__all__ = ["EngineCLI"]


class EngineCLI:
    """An interactive chat with an engine, in the terminal.

    Out of the box it streams ``EngineTextDeltaEvent`` text (and
    ``EngineThinkingDeltaEvent`` thinking, dimmed and collapsed), shows
    ``ToolExecuteResultEvent`` as a :class:`ToolComponent`, drives the spinner
    with ``EngineStatusEvent`` (and subclasses) and answers
    ``ToolApprovalCommand`` with a :class:`YesNoPrompt`; every one of these can
    be re-registered.

    Args:
        session_id: The bus session of the engine; the CLI's handlers live in it.
        console: Where output goes (default: a Rich console on stdout).
        input: prompt_toolkit input (default: the terminal; tests pass a pipe input).
        output: prompt_toolkit output (default: the terminal).
        history_file: File of the input history (default ``~/.llmgine_history``).
        bus: The bus to listen on (default: the message bus singleton).
    """

    def __init__(
        self,
        session_id: str = ROOT,
        *,
        console: Console | None = None,
        input: Input | None = None,  # noqa: A002 - prompt_toolkit's name
        output: Output | None = None,
        history_file: str | os.PathLike[str] | None = None,
        bus: Bus | None = None,
    ) -> None:
        self.session_id = session_id
        self.console = console or Console()
        self.input = input
        self.output = output
        self.history_file = history_file
        self.bus: Bus = bus if bus is not None else MessageBus()
        self.engine: Any = None
        self.engine_command: type[Command] | None = None
        self.engine_result_component: Callable[..., Any] = EngineResultComponent
        self.component_lookup: dict[type, Callable[..., Any]] = {}
        self.display = TurnDisplay(self.console)
        self.prompts = PromptRouter(self)
        self.commands = SlashCommands()
        BuiltinCommands(self).register(self.commands)
        self._loading_types: dict[type, None] = {}
        self._stream_types: dict[type, None] = {}
        self._turn_task: asyncio.Task[CommandResult] | None = None
        self._sigint: SigintHandler | None = None
        self._input_session: PromptSession[Any] | None = None
        self._exit_requested = False
        self.register_loading_event(EngineStatusEvent)
        self.register_text_stream_event(EngineTextDeltaEvent)
        self.bus.register_event_handler(
            EngineThinkingDeltaEvent, self._on_thinking, self.session_id
        )
        self.register_component_event(ToolExecuteResultEvent, ToolComponent)
        try:
            self.register_prompt_command(ToolApprovalCommand, YesNoPrompt)
        except HandlerRegistrationError:  # the application answers approvals itself
            pass

    # -- registration ----------------------------------------------------------

    def register_engine(self, engine: Any) -> None:
        """Attach the engine the slash commands act on (``/model``, ``/tools``...).

        If no engine command is registered by the time the CLI runs, the
        engine's ``command_type`` is registered with its ``handle_command``.
        """
        self.engine = engine
        status_type = getattr(engine, "status_event_type", None)
        if isinstance(status_type, type) and issubclass(status_type, Event):
            self.register_loading_event(status_type)

    def register_engine_command(
        self, command_type: type[Command], handler: Callable[..., Any]
    ) -> None:
        """Send each message as ``command_type(prompt=text)``, handled by ``handler``.

        Raises:
            HandlerRegistrationError: the command already has a handler in this session.
        """
        self.bus.register_command_handler(command_type, handler, self.session_id)
        self.engine_command = command_type

    def register_engine_result_component(self, component: Callable[..., Any]) -> None:
        """Show each turn's ``CommandResult`` with ``component(result)``."""
        self.engine_result_component = component

    def register_loading_event(self, event_type: type[Event]) -> None:
        """Show the ``status`` of these events next to a spinner (``"finished"`` stops it)."""
        if event_type not in self._loading_types:
            self._loading_types[event_type] = None
            handler = self._only_most_specific(self._loading_types, event_type, self._on_status)
            self.bus.register_event_handler(event_type, handler, self.session_id)

    def register_text_stream_event(self, event_type: type[Event]) -> None:
        """Stream the ``text`` of these events live, as the answer of the running turn."""
        if event_type not in self._stream_types:
            self._stream_types[event_type] = None
            handler = self._only_most_specific(self._stream_types, event_type, self._on_text)
            self.bus.register_event_handler(event_type, handler, self.session_id)

    def register_component_event(
        self, event_type: type[Event], component: Callable[..., Any]
    ) -> None:
        """Print ``component(event)`` when an event of this type (or a subclass) arrives.

        The most specific registration wins: registering a subclass of an
        already registered type shows its events with the subclass's component only.
        """
        first = event_type not in self.component_lookup
        self.component_lookup[event_type] = component
        if first:
            handler = self._only_most_specific(
                self.component_lookup, event_type, self._on_component
            )
            self.bus.register_event_handler(event_type, handler, self.session_id)

    def register_prompt_command(
        self, command_type: type[Command], prompt: Callable[..., Any]
    ) -> None:
        """Answer ``command_type`` commands by asking the user with ``prompt(command)``.

        The answer (what the prompt's ``get_input()`` returns) is the command's
        result: ``CommandResult(success=True, result=answer)``.

        Raises:
            HandlerRegistrationError: something else handles the command in this session.
        """
        self.prompts.register(command_type, prompt)

    @property
    def prompt_lookup(self) -> dict[type, Callable[..., Any]]:
        """The prompt of each prompt command type."""
        return self.prompts.lookup

    def register_cli_command(
        self,
        name: str,
        func: Callable[..., Any],
        help: str = "",  # noqa: A002
        available: Callable[[], bool] | None = None,
    ) -> None:
        """Add the slash command ``/name``: ``func(args)`` or ``func()``, sync or async.

        ``available()`` (optional) says whether ``/help`` lists it right now.
        """
        self.commands.register(name, func, help, available)

    @property
    def cli_commands(self) -> list[SlashCommand]:
        """The slash commands, in registration order."""
        return list(self.commands)

    def _only_most_specific(
        self, table: dict[type, Any], registered: type, action: Callable[[Event, Any], None]
    ) -> Callable[[Event], None]:
        """A handler for ``registered`` that acts only if no more specific type is registered."""

        def handler(event: Event) -> None:
            match = most_specific(table, type(event))
            if match is not None and match[0] is registered:
                action(event, match[1])

        handler.__qualname__ = f"EngineCLI.{action.__name__}[{registered.__name__}]"
        return handler

    def validate_setup(self) -> None:
        """Check the CLI can run (registering the engine's own command if needed).

        Raises:
            ConfigurationError: no engine command is registered and no engine can give one.
        """
        if self.engine_command is not None:
            return
        engine = self.engine
        command_type = getattr(engine, "command_type", None)
        # An Engine announces its run first; seed-style engines have only handle_command.
        handler = getattr(engine, "handle_announced", None) or getattr(
            engine, "handle_command", None
        )
        if command_type is None or handler is None:
            raise ConfigurationError(
                "the CLI has no engine command: call register_engine(engine) or "
                "register_engine_command(CommandType, handler) first"
            )
        self.register_engine_command(command_type, handler)

    # -- event and command handlers -----------------------------------------------

    @property
    def turn_running(self) -> bool:
        """True while a message is being answered."""
        return self._turn_task is not None and not self._turn_task.done()

    def _on_status(self, event: Event, _: Any) -> None:
        if self.turn_running:
            self.display.set_status(str(getattr(event, "status", "")))

    def _on_text(self, event: Event, _: Any) -> None:
        if self.turn_running:
            self.display.add_text(str(getattr(event, "text", "") or ""))

    def _on_thinking(self, event: EngineThinkingDeltaEvent) -> None:
        if self.turn_running:
            self.display.add_thinking(event.text)

    def _on_component(self, event: Event, component: Callable[..., Any]) -> None:
        self.render(component(event))

    # -- output --------------------------------------------------------------------

    def render(self, component: Any) -> None:
        """Print a component (or any Rich renderable) above the live region."""
        with self.display.paused():
            render = getattr(component, "render", None)
            if isinstance(component, CLIComponent):
                component.render(self.console)
            elif render is None or is_renderable(component):
                self.console.print(component)
            elif accepts_arguments(render, 1):  # a component of your own: render(console)
                render(self.console)
            else:  # or render() printing by itself, as the seed's components did
                render()

    def print_error(self, message: object) -> None:
        """Print one red line."""
        self.render(ErrorComponent(message))

    def print_info(self, message: str) -> None:
        """Print one dim line."""
        self.render(Text(message, style="dim"))

    def notice(self, message: str) -> None:
        """Print one yellow line (a warning the user should see, such as the offline model)."""
        self.render(Text(message, style="yellow"))

    def _show_result(self, result: CommandResult) -> None:
        if not result.success:
            self.print_error(result.error or "the command failed")
            return
        factory = self.engine_result_component
        if takes_keyword(factory, "streamed_text"):
            component = factory(result, streamed_text=self.display.streamed)
        else:
            component = factory(result)
        self.render(component)

    # -- running ---------------------------------------------------------------------

    def cancel_turn(self) -> bool:
        """Cancel the message being answered; True if there was one."""
        task = self._turn_task
        if task is None or task.done():
            return False
        task.cancel()
        return True

    def reclaim_sigint(self) -> None:
        """Route SIGINT to :meth:`cancel_turn` again while a turn runs (after a prompt)."""
        if self._sigint is not None:
            self._sigint.install()

    def request_exit(self) -> None:
        """Make :meth:`main` return after the current input."""
        self._exit_requested = True

    async def run_once(self, prompt: str) -> CommandResult:
        """Send ``prompt`` to the engine, show the answer and return the result.

        Never raises for a failed turn: a failure is printed as one red line
        and returned as ``CommandResult(success=False)``; a cancelled turn
        (Ctrl-C) gives ``error="cancelled"``.
        """
        self.validate_setup()
        return await self._run_turn(prompt)

    async def _execute(self, command: Command) -> CommandResult:
        return await self.bus.execute(command)

    async def _run_turn(self, prompt: str) -> CommandResult:
        assert self.engine_command is not None
        command = self.engine_command(prompt=prompt, session_id=self.session_id)  # type: ignore[call-arg]
        self.display.start_turn()
        task: asyncio.Task[CommandResult] = asyncio.create_task(
            self._execute(command), name="llmgine-cli-turn"
        )
        self._turn_task = task
        try:
            with SigintHandler(self.cancel_turn) as self._sigint:
                await asyncio.wait({task})
        except asyncio.CancelledError:  # the CLI itself is being cancelled
            task.cancel()
            await asyncio.wait({task})
            raise
        finally:
            self._sigint = None
            self._turn_task = None
            self.display.finish()
        if task.cancelled():
            self.render(Text("cancelled", style="yellow"))
            return CommandResult(success=False, error="cancelled", session_id=self.session_id)
        error = task.exception()
        if error is not None:  # e.g. no handler for the command: still one line
            message = f"{type(error).__name__}: {error}"
            self.print_error(message)
            return CommandResult(success=False, error=message, session_id=self.session_id)
        result = task.result()
        self._show_result(result)
        return result

    async def handle_input(self, text: str) -> CommandResult | None:
        """Handle one line typed at the prompt: a slash command or a message.

        Returns the engine's result for a message, None otherwise.
        """
        text = text.strip()
        if not text:
            return None
        parsed = parse_slash_command(text)
        if parsed is not None:
            await self.run_cli_command(*parsed)
            return None
        if text.startswith("//"):
            text = text[1:]
        return await self._run_turn(text)

    async def run_cli_command(self, name: str, args: str = "") -> None:
        """Run the slash command ``name``; unknown or failing commands print one line."""
        command = self.commands.get(name)
        if command is None:
            self.print_error(f"Unknown command /{name}; type /help for the list.")
            return
        try:
            await command.run(args)
        except Exception as exc:
            self.print_error(f"/{command.name} failed: {type(exc).__name__}: {exc}")

    async def main(self) -> None:
        """Read messages until Ctrl-D, ``/exit`` or two Ctrl-C in a row; stop the bus at the end.

        A ``MessageBus`` is started if it is not running, and stopped at the end
        (a bus of another kind is left to whoever made it).
        """
        self.validate_setup()
        self._exit_requested = False
        bus = self.bus if isinstance(self.bus, MessageBus) else None
        try:
            if bus is not None and not bus.is_running:
                await bus.start()
            session = self._get_input_session()
            self._welcome()
            interrupted = False
            while not self._exit_requested:
                try:
                    line = await session.prompt_async(handle_sigint=False)
                except EOFError:
                    break
                except KeyboardInterrupt:
                    line = Interrupted.EMPTY
                if isinstance(line, Interrupted):
                    if line is Interrupted.EMPTY:
                        if interrupted:
                            break
                        self.print_info("Press Ctrl-C again or Ctrl-D to quit.")
                    interrupted = line is Interrupted.EMPTY
                    continue
                interrupted = False
                await self.handle_input(line)
        finally:
            self.display.finish()
            if bus is not None:
                await bus.stop()

    def _get_input_session(self) -> PromptSession[Any]:
        if self._input_session is None:
            self._input_session = create_input_session(
                history=create_history(self.history_file),
                input=self.input,
                output=self.output,
                toolbar=self._toolbar_text,
            )
        return self._input_session

    def _model_name(self) -> str | None:
        model = getattr(self.engine, "model", None)
        if model is None:
            return None
        return str(getattr(model, "model_string", None) or model)

    def _toolbar_text(self) -> str:
        model = self._model_name()
        return f"{model} │ {KEY_HINT}" if model else KEY_HINT

    def _welcome(self) -> None:
        title = Text("llmgine", style="bold cyan")
        if self.engine is not None:
            title.append(f" · {type(self.engine).__name__}")
        model = self._model_name()
        if model:
            title.append(f" · {model}")
        self.render(title)
        self.print_info(KEY_HINT)
