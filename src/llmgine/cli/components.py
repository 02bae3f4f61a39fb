"""What the CLI prints: one component per kind of message, rendered into a Rich console.

A component is built from an event (or a ``CommandResult``) and knows how to
show itself; ``render(console)`` prints it, and every component is also a Rich
renderable, so ``console.print(component)`` works too. Components never clear
or redraw the screen: they add to the scrollback, nothing more.

Text that comes from users, tools or models is never read as Rich markup (a
``[red]`` in a tool's output stays literal); the assistant's answers are
rendered as Markdown.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.markdown import Markdown
from rich.panel import Panel
from rich.text import Text

from llmgine.cli._util import one_line
from llmgine.messages.commands import CommandResult

__all__ = [
    "AssistantComponent",
    "CLIComponent",
    "EngineResultComponent",
    "ErrorComponent",
    "ToolComponent",
    "ToolComponentShort",
    "UserComponent",
    "result_text",
]

#: Lines of a tool's result shown before the rest is summarised.
TOOL_RESULT_MAX_LINES = 20
#: Characters of a tool's result (or arguments) shown before the rest is summarised.
TOOL_RESULT_MAX_CHARS = 2000


class CLIComponent(ABC):
    """Base of everything the CLI prints: subclass it and implement :meth:`renderable`."""

    @abstractmethod
    def renderable(self) -> RenderableType | None:
        """What to print (None prints nothing)."""

    def render(self, console: Console | None = None) -> None:
        """Print the component to ``console`` (a new default console if None)."""
        renderable = self.renderable()
        if renderable is not None:
            (console or Console()).print(renderable)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        renderable = self.renderable()
        if renderable is not None:
            yield renderable


def _text_of(source: Any) -> str:
    """The ``text`` of an event, or the string itself."""
    if isinstance(source, str):
        return source
    return str(getattr(source, "text", "") or "")


class UserComponent(CLIComponent):
    """The user's message, in a blue panel.

    Args:
        event: An event with a ``text`` attribute, or the text itself.
    """

    def __init__(self, event: Any) -> None:
        self.text = _text_of(event)

    @classmethod
    def from_text(cls, text: str) -> UserComponent:
        """A component for ``text``."""
        return cls(text)

    def renderable(self) -> RenderableType:
        """The message in a panel titled "You"."""
        return Panel(Text(self.text), title="[bold blue]You[/]", title_align="left", style="blue")

    @property
    def serialize(self) -> dict[str, str]:
        """The message as a chat message dict."""
        return {"role": "user", "content": self.text}


class AssistantComponent(CLIComponent):
    """The assistant's text as Markdown, in a green panel.

    Args:
        event: An event with a ``text`` attribute, or the text itself.
        title: The panel's title.
    """

    def __init__(self, event: Any, *, title: str = "Assistant") -> None:
        self.text = _text_of(event)
        self.title = title

    def renderable(self) -> RenderableType:
        """The text as Markdown in a panel."""
        return assistant_panel(Markdown(self.text), self.title)

    @property
    def serialize(self) -> dict[str, str]:
        """The message as a chat message dict."""
        return {"role": "assistant", "content": self.text}


def assistant_panel(body: RenderableType, title: str = "Assistant") -> Panel:
    """The green panel every assistant answer is shown in."""
    return Panel(
        body,
        title=Text(title, style="bold green"),
        title_align="left",
        border_style="green",
    )


def result_text(value: Any) -> str:
    """The text of a command's result value (``""`` for None)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    content = getattr(value, "content", None)
    if isinstance(content, str):
        return content
    return str(value)


class EngineResultComponent(CLIComponent):
    """The answer of an engine turn (a ``CommandResult``), as Markdown in a panel.

    A failed result is shown as one red line. When the answer was already
    streamed to the screen this turn (``streamed_text`` holds it), nothing is
    printed again.

    Args:
        result: The engine command's result.
        streamed_text: The text streamed during the turn, if any.
        title: The panel's title.
    """

    def __init__(
        self, result: CommandResult, *, streamed_text: str = "", title: str = "Assistant"
    ) -> None:
        self.command_result = result
        self.result = result.result
        self.text = result_text(result.result)
        self.streamed_text = streamed_text
        self.title = title

    @property
    def already_shown(self) -> bool:
        """True when the streamed text already contains this answer."""
        streamed = self.streamed_text.strip()
        return bool(streamed) and self.text.strip() in streamed

    def renderable(self) -> RenderableType | None:
        """The answer panel, the error line, or None when it was streamed already."""
        if not self.command_result.success:
            return ErrorComponent(self.command_result.error or "the command failed").renderable()
        if self.already_shown:
            return None
        if not self.text.strip():
            return assistant_panel(Text("(empty answer)", style="dim italic"), self.title)
        return assistant_panel(Markdown(self.text), self.title)


class ErrorComponent(CLIComponent):
    """One red line saying what went wrong (never a traceback).

    Args:
        message: The error; newlines and runs of spaces are folded into one line.
        prefix: Put in front of the message.
    """

    def __init__(self, message: object, *, prefix: str = "Error: ") -> None:
        self.message = one_line(message)
        self.prefix = prefix

    def renderable(self) -> RenderableType:
        """The error as a red line."""
        return Text(f"{self.prefix}{self.message}", style="bold red")


def _shorten(text: str, max_lines: int, max_chars: int) -> str:
    lines = text.splitlines()
    shown = "\n".join(lines[:max_lines])
    if len(shown) > max_chars:
        shown = shown[:max_chars]
    hidden = len(text) - len(shown)
    if hidden > 0:
        extra_lines = max(0, len(lines) - max_lines)
        more = f"{extra_lines} more lines" if extra_lines else f"{hidden} more characters"
        shown = f"{shown.rstrip()}\n… ({more})"
    return shown


def format_arguments(arguments: Any) -> str:
    """Tool arguments on one line: compact JSON for a dict, the text itself otherwise."""
    if arguments is None or arguments == {}:
        return ""
    if isinstance(arguments, str):
        return arguments
    try:
        return json.dumps(arguments, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(arguments)


class ToolComponent(CLIComponent):
    """A tool call: its name, arguments and result; failed calls are shown in red.

    Works with any event that has ``tool_name`` and ``result`` (``arguments`` and
    ``is_error`` are optional), such as ``ToolExecuteResultEvent``.

    Args:
        event: The tool result event.
    """

    def __init__(self, event: Any) -> None:
        self.tool_name = str(getattr(event, "tool_name", "") or "tool")
        self.arguments = getattr(event, "arguments", None)
        self.tool_result = result_text(getattr(event, "result", ""))
        self.is_error = bool(getattr(event, "is_error", False))

    def renderable(self) -> RenderableType:
        """The call in a yellow panel (red when it failed)."""
        color = "red" if self.is_error else "yellow"
        body = Text()
        arguments = format_arguments(self.arguments)
        if arguments:
            body.append("arguments: ", style="bold")
            body.append(_shorten(arguments, 3, 500))
            body.append("\n")
        body.append("error: " if self.is_error else "result: ", style="bold")
        shown = _shorten(self.tool_result, TOOL_RESULT_MAX_LINES, TOOL_RESULT_MAX_CHARS)
        body.append(shown or "(empty)", style="red" if self.is_error else "")
        title = Text(f"{'Tool failed' if self.is_error else 'Tool'}: {self.tool_name}")
        title.stylize(f"bold {color}")
        return Panel(body, title=title, title_align="left", border_style=color)

    @property
    def serialize(self) -> dict[str, str]:
        """The result as a chat message dict."""
        return {"role": "tool", "content": self.tool_result}


class ToolComponentShort(ToolComponent):
    """A tool call as one line: name and arguments only."""

    def renderable(self) -> RenderableType:
        """``Tool name(arguments)`` in yellow (red when it failed)."""
        color = "red" if self.is_error else "yellow"
        line = Text(f"{'✗' if self.is_error else '✓'} {self.tool_name}", style=f"bold {color}")
        arguments = format_arguments(self.arguments)
        if arguments:
            line.append(f"({one_line(arguments, 120)})", style=color)
        return line
