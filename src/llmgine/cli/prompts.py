"""Questions the CLI asks the user in answer to a command (tool approval, a choice).

A prompt is built from the command it answers, shows its question in the Rich
console and reads the answer with prompt_toolkit's ``prompt_async``, so the
event loop keeps running while the user thinks. Register one with
``EngineCLI.register_prompt_command(ToolApprovalCommand, YesNoPrompt)``; the
command's handler then returns ``CommandResult(success=True, result=answer)``.

Keys: ``y``/``n`` answer a yes/no question at once (Ctrl-D means no);
a choice is a number and Enter. Ctrl-C raises ``KeyboardInterrupt``, which
the CLI turns into cancelling the running turn.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import field
from typing import Any

from prompt_toolkit import PromptSession
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.output import Output
from prompt_toolkit.validation import Validator
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from llmgine.cli.components import CLIComponent, format_arguments
from llmgine.cli.host import CLIHost
from llmgine.messages.commands import Command

__all__ = [
    "CLIPrompt",
    "SelectPrompt",
    "SelectPromptCommand",
    "YesNoPrompt",
    "YesNoPromptCommand",
]


class YesNoPromptCommand(Command):
    """Ask the user a yes/no question (answered by :class:`YesNoPrompt`).

    Attributes:
        prompt: The question.
    """

    prompt: str = ""


class SelectPromptCommand(Command):
    """Ask the user to pick one option (answered by :class:`SelectPrompt` with its number).

    Attributes:
        prompt: The question.
        options: The options, shown numbered from 1.
        title: The panel's title.
        option_number: How many options there are, when ``options`` is empty
            (the seed's form: the options are then described in ``prompt``).
    """

    prompt: str = ""
    options: list[str] = field(default_factory=list)
    title: str = "Choose"
    option_number: int = 0


class CLIPrompt(ABC):
    """Base of the CLI's prompts: built from a command, asked with :meth:`get_input`.

    Args:
        command: The command to answer.
        console: Where the question is shown (the CLI's console once attached).
        input: prompt_toolkit input (default: the terminal).
        output: prompt_toolkit output (default: the terminal).
    """

    def __init__(
        self,
        command: Any,
        *,
        console: Console | None = None,
        input: Input | None = None,  # noqa: A002 - prompt_toolkit's name
        output: Output | None = None,
    ) -> None:
        self.command = command
        self.console = console or Console()
        self.input = input
        self.output = output
        self.result: Any = None

    def attach_cli(self, cli: CLIHost) -> None:
        """Use the CLI's console, input and output."""
        self.console = cli.console
        self.input = cli.input
        self.output = cli.output

    @abstractmethod
    async def get_input(self) -> Any:
        """Show the question and return the answer.

        Raises:
            KeyboardInterrupt: the user pressed Ctrl-C.
        """

    @property
    def component(self) -> CLIComponent | None:
        """A component to print after the answer (None: nothing)."""
        return None

    def _session(self, key_bindings: KeyBindings | None = None, **kwargs: Any) -> PromptSession:
        return PromptSession(
            key_bindings=key_bindings, input=self.input, output=self.output, **kwargs
        )


class YesNoPrompt(CLIPrompt):
    """A yes/no question; ``y`` returns True, ``n`` (or Ctrl-D) returns False.

    For a ``ToolApprovalCommand`` the question names the tool and shows its
    description and arguments; other commands need a ``prompt`` attribute.
    """

    def question(self) -> RenderableType:
        """The question's panel body."""
        tool_name = getattr(self.command, "tool_name", None)
        if not tool_name:
            return Text(str(getattr(self.command, "prompt", "") or "Continue?"))
        lines: list[RenderableType] = [Text.assemble("Run the tool ", (tool_name, "bold"), "?")]
        description = str(getattr(self.command, "description", "") or "").strip()
        if description:
            lines.append(Text(description.splitlines()[0], style="dim"))
        arguments = format_arguments(getattr(self.command, "arguments", None))
        if arguments:
            lines.append(Text.assemble(("arguments: ", "bold"), arguments))
        return Group(*lines)

    async def get_input(self) -> bool:
        """Ask, and return True for yes."""
        self.console.print(
            Panel(
                self.question(),
                title="[bold yellow]Approve?[/]",
                title_align="left",
                border_style="yellow",
            )
        )
        key_bindings = KeyBindings()

        def answer(event: KeyPressEvent, value: bool) -> None:
            event.app.current_buffer.text = "yes" if value else "no"
            event.app.exit(result=value)

        @key_bindings.add("y")
        @key_bindings.add("Y")
        def _yes(event: KeyPressEvent) -> None:
            answer(event, True)

        @key_bindings.add("n")
        @key_bindings.add("N")
        @key_bindings.add("c-d")
        def _no(event: KeyPressEvent) -> None:
            answer(event, False)

        @key_bindings.add("c-c")
        def _interrupt(event: KeyPressEvent) -> None:
            event.app.exit(exception=KeyboardInterrupt())

        @key_bindings.add("<any>")
        def _ignore(event: KeyPressEvent) -> None:
            """Other keys do nothing."""

        session = self._session(key_bindings)
        message = FormattedText([("bold", "Allow? "), ("", "[y/n] ")])
        self.result = bool(await session.prompt_async(message, handle_sigint=False))
        return self.result


class SelectPrompt(CLIPrompt):
    """Pick one of numbered options; returns the chosen number (from 1).

    The command needs ``prompt`` and either ``options`` (a list of strings) or
    ``option_number``. The chosen option's text is in :attr:`selected`.
    """

    def __init__(self, command: Any, **kwargs: Any) -> None:
        super().__init__(command, **kwargs)
        self.title = str(getattr(command, "title", "") or "Choose")
        self.prompt = str(getattr(command, "prompt", "") or "")
        self.options = [str(option) for option in getattr(command, "options", None) or []]
        count = len(self.options) or int(getattr(command, "option_number", 0) or 0)
        if count < 1:
            raise ValueError("a select prompt needs at least one option")
        self.count = count
        self.selected: str | None = None

    async def get_input(self) -> int:
        """Ask, and return the chosen number."""
        body = Text(self.prompt)
        for number, option in enumerate(self.options, start=1):
            body.append(f"\n  {number}. ", style="bold")
            body.append(option)
        self.console.print(
            Panel(body, title=Text(self.title, style="bold green"), border_style="green")
        )

        def valid(text: str) -> bool:
            return text.strip().isdigit() and 1 <= int(text) <= self.count

        validator = Validator.from_callable(
            valid, error_message=f"type a number from 1 to {self.count}", move_cursor_to_end=True
        )
        session = self._session(validator=validator, validate_while_typing=False)
        answer = await session.prompt_async(f"Choose 1-{self.count}: ", handle_sigint=False)
        self.result = int(answer)
        if self.options:
            self.selected = self.options[self.result - 1]
        return self.result
